"""Write one image's results to a folder a person can browse."""

from __future__ import annotations

import json
from pathlib import Path

from autorust.runtime.runner import ItemResult


def item_folder(output_dir: Path, result: ItemResult) -> Path:
    suffix = (result.thread_id or "no-thread")[:16]
    return output_dir / f"{Path(result.image_path).stem}-{suffix}"


def item_log(result: ItemResult) -> str:
    """The item's story as JSON lines: every model exchange (tokens, latency, retries,
    regenerations), every execution and verdict, and the outcome."""
    records: list[dict[str, object]] = []
    state = result.state
    if state is not None:
        for call in state.model_calls:
            records.append({"event": "model_call", **call.model_dump(mode="json")})
        for attempt in state.attempts:
            execution, verdict = attempt.execution, attempt.verdict
            records.append({
                "event": "attempt", "iteration": attempt.iteration, "backend": execution.backend,
                "exit_code": execution.exit_code, "duration_s": execution.duration_s,
                "timed_out": execution.timed_out, "tests_passed": execution.tests_passed,
                "tests": len(execution.tests), "passed": verdict.passed, "score": verdict.score,
                "warnings": execution.warnings,
            })  # fmt: skip
    records.append({"event": "outcome", "status": result.status, "error": result.error,
                    "thread_id": result.thread_id, "duration_s": result.duration_s})  # fmt: skip
    return "".join(json.dumps(record) + "\n" for record in records)


def write_item(output_dir: str | Path, result: ItemResult) -> Path:
    folder = item_folder(Path(output_dir), result)
    folder.mkdir(parents=True, exist_ok=True)
    state = result.state
    summary = result.model_dump(mode="json", exclude={"state"})
    if state is not None:
        summary["prompt_versions"] = state.prompt_versions
        summary["model_provider"] = state.model_provider
        summary["verdict"] = state.verdict.model_dump(mode="json") if state.verdict else None
        if state.spec:
            (folder / "spec.json").write_text(state.spec.model_dump_json(indent=2))
        if state.code:
            (folder / "solution.py").write_text(state.code.source)
        for attempt in state.attempts:
            attempt_dir = folder / "attempts" / f"{attempt.iteration + 1:02d}"
            attempt_dir.mkdir(parents=True, exist_ok=True)
            (attempt_dir / "code.py").write_text(attempt.code.source)
            (attempt_dir / "execution.json").write_text(attempt.execution.model_dump_json(indent=2))
            (attempt_dir / "verdict.json").write_text(attempt.verdict.model_dump_json(indent=2))
    (folder / "result.json").write_text(json.dumps(summary, indent=2))
    (folder / "log.jsonl").write_text(item_log(result))
    return folder
