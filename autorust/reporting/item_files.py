"""Write one image's results to a folder a person can browse.

Folder names are ``<readable stem>-<thread id>-<name tag>``: the stem is cleaned (control
characters, separators and characters some file systems reject become ``_``) and cut to
``STEM_BYTES`` UTF-8 bytes, so any legal file name gives a legal folder name. The *whole* thread
id is kept (image hash, configuration fingerprint and any ``-fork-…`` suffix), so a fork, a
resume or a run with other settings never writes into another run's folder, and the name is an
id ``autorust runs show`` accepts. The tag is a hash of the image's absolute path, so names that
differ only after the cut, by case (on case-insensitive disks) or by unicode normalisation, and
same-named images from different folders, never share a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
from pathlib import Path

from autorust.outcomes import ItemResult

STEM_BYTES = 60
FIGURE_FILE = "output.png"
UNSAFE_CHARS = set('<>:"/\\|?*')


def safe_stem(name: str) -> str:
    stem = unicodedata.normalize("NFC", Path(name).stem or name)
    cleaned = "".join(
        "_" if ch in UNSAFE_CHARS or not ch.isprintable() or (ch.isspace() and ch != " ") else ch
        for ch in stem
    ).strip(" .")
    encoded = cleaned.encode("utf-8")[:STEM_BYTES]
    return encoded.decode("utf-8", errors="ignore").rstrip(" .") or "image"


def folder_name(image_path: str, thread_id: str | None) -> str:
    name = Path(image_path).name
    where = os.path.abspath(image_path)
    tag = hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{safe_stem(name)}-{thread_id or 'no-thread'}-{tag}"


def item_folder(output_dir: Path, result: ItemResult) -> Path:
    return output_dir / folder_name(result.image_path, result.thread_id)


def busy_seconds(result: ItemResult) -> float:
    """Model and sandbox time recorded in the item's state (when no result file says more)."""
    state = result.state
    if state is None:
        return 0.0
    spent = sum(call.latency_s for call in state.model_calls)
    spent += sum(attempt.execution.duration_s for attempt in state.attempts)
    return round(spent, 3)


def recorded_result(output_dir: str | Path, result: ItemResult) -> ItemResult:
    """A skipped item with its original figures: the duration its own run recorded in
    ``result.json`` (else the busy time in its state), not the time the skip took. Tokens,
    score and iterations come from its checkpointed state either way."""
    if not result.skipped:
        return result
    previous = item_folder(Path(output_dir), result) / "result.json"
    try:
        duration = float(json.loads(previous.read_text(encoding="utf-8"))["duration_s"])
    except (OSError, ValueError, KeyError, TypeError):
        duration = busy_seconds(result)
    return result.model_copy(update={"duration_s": duration})


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


def _copy_figure(artifacts: dict[str, str], folder: Path) -> None:
    """The rendered figure, copied: the sandbox's artifact folder is shared by every run of
    the same image (a fork renders over it), the result folder is this run's own."""
    source = artifacts.get(FIGURE_FILE)
    if source and Path(source).is_file():
        shutil.copyfile(source, folder / FIGURE_FILE)


def write_item(output_dir: str | Path, result: ItemResult) -> Path:
    """The item's folder; a skipped item's existing folder is left exactly as its run wrote it."""
    folder = item_folder(Path(output_dir), result)
    if result.skipped and (folder / "result.json").is_file():
        return folder
    result = recorded_result(output_dir, result)
    folder.mkdir(parents=True, exist_ok=True)
    state = result.state
    summary = result.model_dump(mode="json", exclude={"state"})
    if state is not None:
        summary["prompt_versions"] = state.prompt_versions
        summary["model_provider"] = state.model_provider
        summary["verdict"] = state.verdict.model_dump(mode="json") if state.verdict else None
        if state.spec:
            (folder / "spec.json").write_text(
                state.spec.model_dump_json(indent=2), encoding="utf-8"
            )
        if state.code:
            (folder / "solution.py").write_text(state.code.source, encoding="utf-8")
        for attempt in state.attempts:
            attempt_dir = folder / "attempts" / f"{attempt.iteration + 1:02d}"
            attempt_dir.mkdir(parents=True, exist_ok=True)
            (attempt_dir / "code.py").write_text(attempt.code.source, encoding="utf-8")
            (attempt_dir / "execution.json").write_text(
                attempt.execution.model_dump_json(indent=2), encoding="utf-8"
            )
            (attempt_dir / "verdict.json").write_text(
                attempt.verdict.model_dump_json(indent=2), encoding="utf-8"
            )
            _copy_figure(attempt.execution.artifacts, attempt_dir)
        if state.attempts:
            _copy_figure(state.attempts[-1].execution.artifacts, folder)
    (folder / "log.jsonl").write_text(item_log(result), encoding="utf-8")
    # last and atomic: a result.json present means the folder is complete
    partial = folder / "result.json.partial"
    partial.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    partial.replace(folder / "result.json")
    return folder
