"""interpreter agent: run the code and the spec's tests in the configured sandbox -> Execution."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Execution, RunState, Spec, TestResult
from autorust.nodes.shared import run_config
from autorust.sandbox import harness
from autorust.sandbox.base import Job, JobResult
from autorust.sandbox.factory import make_executor

HARNESS_SOURCE = Path(harness.__file__).read_text(encoding="utf-8")


def build_job(spec: Spec, source: str, config: AutorustConfig) -> tuple[Job, str]:
    """The job, and the name of the file the harness writes results to.

    The results file gets a random name so the generated program cannot predict and forge it.
    """
    results_file = f"_results_{secrets.token_hex(8)}.json"
    plan = {
        "interface": spec.interface,
        "function_name": spec.function_name,
        "tests": [t.model_dump() for t in spec.tests],
        "run_timeout_s": config.executor.limits.timeout_s,
    }
    job = Job(
        files={
            "solution.py": source,
            "_harness.py": HARNESS_SOURCE,
            "_tests.json": json.dumps(plan),
        },
        argv=["python", "_harness.py", results_file],
        limits=config.executor.limits,
        collect=[results_file, "*.png"],
    )
    return job, results_file


def parse_tests(result: JobResult, results_file: str, spec: Spec) -> list[TestResult]:
    raw = result.files.get(results_file)
    if raw is None:
        reason = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        return [
            TestResult(
                name=t.name, passed=False, error=f"test harness produced no result ({reason})"
            )
            for t in spec.tests
        ]
    return [TestResult(**item) for item in json.loads(raw)]


def save_artifacts(result: JobResult, results_file: str, folder: Path) -> dict[str, str]:
    saved: dict[str, str] = {}
    for name, content in result.files.items():
        if name == results_file:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(name).name
        target.write_bytes(content)
        saved[Path(name).name] = str(target)
    return saved


async def interpreter_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec is not None and state.code is not None, "interpreter runs after coding"
    config = run_config(runtime)
    job, results_file = build_job(state.spec, state.code.source, config)
    executor = await asyncio.to_thread(make_executor, config.executor)  # may probe bwrap
    result = await executor.execute(job)
    artifact_dir = (
        Path(config.home) / "artifacts" / state.image_sha256[:16] / f"iter{state.iteration}"
    )
    execution = Execution(
        backend=result.backend or executor.name,
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        duration_s=result.duration_s,
        timed_out=result.timed_out,
        truncated=result.truncated,
        tests=parse_tests(result, results_file, state.spec),
        artifacts=await asyncio.to_thread(save_artifacts, result, results_file, artifact_dir),
        warnings=result.warnings,
    )
    return {"execution": execution}
