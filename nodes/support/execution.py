"""Run a program and tests in the configured sandbox through the in-sandbox harness.

Shared by the interpreter (the spec's tests) and the review probe (reviewer counterexamples).
The harness gets its plan, including a fresh nonce, on stdin and answers with one framed line
on its stdout; nothing else the job prints or writes is taken as a test result (see
``sandbox/harness.py`` for why the generated code cannot forge it).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from pathlib import Path

from autorust import telemetry
from autorust.graph.context import AutorustConfig
from autorust.graph.state import Execution, Spec, TestCase, TestResult
from autorust.llm.resources import run_resources
from autorust.nodes.support.evidence import problems_of_test
from autorust.sandbox import figure_runner, harness, literals
from autorust.sandbox.base import Job, JobResult
from autorust.sandbox.factory import cached_executor, make_executor

HARNESS_FILES = {
    "_harness.py": Path(harness.__file__).read_text(encoding="utf-8"),
    "_literals.py": Path(literals.__file__).read_text(encoding="utf-8"),
}
FIGURE_RUNNER_SOURCE = Path(figure_runner.__file__).read_text(encoding="utf-8")
FIGURE_FILE = "output.png"
SECOND_RENDER = "_render2/output.png"
# written by the figure runner: the figure saved again at the target's size, and its facts
FITTED_RENDERS = ("_fit/output.png", "_fit/resized.png")
FIGURE_FACTS = "figure.json"
FIGURE_OUTPUTS = (FIGURE_FILE, SECOND_RENDER, *FITTED_RENDERS, FIGURE_FACTS)
MAX_FIGURE_BYTES = 4_000_000  # a chart's PNG is tens to hundreds of kilobytes
# modules a task kind's code imports, loaded in the waiting sandbox interpreter; the harness
# forks its children from it, so the solution starts with them loaded (issue 26)
PRELOAD = {"figure": ["numpy", "matplotlib.pyplot"]}
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")
# figure code that may draw random data is rendered twice: differing renders mean unseeded
# randomness, which no comparison with the target image can ever accept
RANDOMNESS = re.compile(r"\brandom\b|\brandn?\b|default_rng|\bnormal\(|\buniform\(|shuffle")


class SandboxFailure(RuntimeError):
    """The sandbox could not run the job at all: infrastructure, not the code's fault."""


def build_job(
    spec: Spec,
    tests: list[TestCase],
    source: str,
    config: AutorustConfig,
    target_size: tuple[int, int] | None = None,
) -> tuple[Job, str]:
    """The job and its nonce; the plan travels on stdin, never as a file the code could read.
    A figure job also ships the figure runner, which saves the figure again at
    ``target_size`` (the task image's pixel size) and exports its facts."""
    nonce = secrets.token_hex(16)
    figure = spec.interface == "figure"
    plan = {
        "nonce": nonce,
        "interface": spec.interface,
        "function_name": spec.function_name,
        "tests": [t.model_dump(exclude_none=True) for t in tests],
        "per_test_timeout_s": min(5.0, config.executor.limits.timeout_s),
        "run_timeout_s": config.executor.limits.timeout_s,
        "second_render": figure and bool(RANDOMNESS.search(source)),
        "target_size": list(target_size) if figure and target_size else None,
    }
    files = {"solution.py": source, **HARNESS_FILES}
    # only the declared outputs, never whatever the job chose to leave behind
    collect = list(FIGURE_OUTPUTS) if figure else []
    if figure:
        files[harness.FIGURE_RUNNER] = FIGURE_RUNNER_SOURCE
    job = Job(
        files=files,
        argv=["python", "_harness.py"],
        stdin=json.dumps(plan),
        preload=PRELOAD.get(spec.interface, []),
        limits=config.executor.limits,
        collect=collect,
        max_collect_files=len(collect),
        max_collect_file_bytes=MAX_FIGURE_BYTES,
        max_collect_bytes=3 * MAX_FIGURE_BYTES,
    )
    return job, nonce


def harness_report(result: JobResult, nonce: str) -> dict | None:
    """The harness's framed report, if it got one out (checked against the nonce)."""
    prefix = f"{harness.FRAME_START} {nonce} "
    start = result.stdout.rfind(prefix)
    if start < 0:
        return None
    end = result.stdout.find(harness.FRAME_END, start + len(prefix))
    if end < 0:
        return None
    try:
        report = json.loads(result.stdout[start + len(prefix) : end])
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _no_report_reason(result: JobResult) -> str:
    if result.timed_out:
        return f"the run timed out after {result.duration_s:.1f}s before the tests finished"
    if result.truncated:
        return "the run's output exceeded the sandbox's output limit before the tests finished"
    return (
        f"the test harness was stopped before reporting (exit code {result.exit_code}): "
        "the program killed it or exhausted a sandbox limit"
    )


def _results(report: dict | None, result: JobResult, tests: list[TestCase]) -> list[TestResult]:
    if report is None:
        reason = _no_report_reason(result)
        return [
            TestResult(
                name=t.name, passed=False, call=t.call, stdin=t.stdin, source=t.source,
                expected=t.expected if t.call is not None else repr(t.expected_stdout),
                error=reason,
            )
            for t in tests
        ]  # fmt: skip
    reported = [TestResult.model_validate(item) for item in report.get("tests", [])]
    if [r.name for r in reported] != [t.name for t in tests]:  # never trust a partial report
        return _results(None, result.model_copy(update={"exit_code": None}), tests)
    return reported


def save_artifacts(
    result: JobResult, folder: Path, expected: tuple[str, ...] = FIGURE_OUTPUTS
) -> dict[str, str]:
    """Write the declared outputs a job returned to ``folder``; anything else is dropped (a
    backend that returned more than it was asked for is not trusted with host file names)."""
    saved: dict[str, str] = {}
    for name, content in result.files.items():
        flat = name.replace("/", "__")
        if name not in expected or not SAFE_NAME.fullmatch(flat):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / flat
        target.write_bytes(content)
        saved[name] = str(target)
    return saved


def _invalid(test: TestCase, problems: list[str]) -> TestResult:
    return TestResult(
        name=test.name, passed=False, call=test.call, stdin=test.stdin, source=test.source,
        expected=test.expected if test.call is not None else repr(test.expected_stdout),
        error="not a valid test: " + "; ".join(problems),
    )  # fmt: skip


async def run_tests(
    spec: Spec,
    tests: list[TestCase],
    source: str,
    config: AutorustConfig,
    artifact_dir: Path,
    target_size: tuple[int, int] | None = None,
) -> Execution:
    """Execute ``source`` against ``tests`` in the sandbox; raises ``SandboxFailure`` when the
    sandbox itself failed (so no attempt is charged to the code). A test the evidence rule
    rejects (one restored from an older checkpoint) fails here without reaching the harness."""
    checked = spec.interface != "figure"
    problems = {t.name: p for t in tests if checked and (p := problems_of_test(t, spec))}
    if problems:
        valid = [t for t in tests if t.name not in problems]
        execution = await run_tests(spec, valid, source, config, artifact_dir, target_size)
        results = {r.name: r for r in execution.tests}
        ordered = [results.get(t.name) or _invalid(t, problems[t.name]) for t in tests]
        return execution.model_copy(update={"tests": ordered})
    job, nonce = build_job(spec, tests, source, config, target_size)
    executor = run_resources().executor  # the batch's, passed with the run
    if executor is None:  # else the process's for these settings
        executor = cached_executor(config.executor) or await asyncio.to_thread(
            make_executor,
            config.executor,  # the first one probes bwrap: off the event loop
        )
    with telemetry.span(
        "autorust.sandbox", autorust__sandbox__backend=executor.name, autorust__tests=len(tests)
    ) as span:
        result = await executor.execute(job)
        telemetry.annotate(
            span,
            autorust__sandbox__exit_code=result.exit_code,
            autorust__sandbox__duration_s=result.duration_s,
            autorust__sandbox__timed_out=result.timed_out,
            autorust__sandbox__truncated=result.truncated,
            autorust__sandbox__failure=bool(result.sandbox_error),
        )
    if result.sandbox_error:
        raise SandboxFailure(result.sandbox_error)
    report = harness_report(result, nonce)
    program = (report or {}).get("program") or {}
    exit_code = program.get("exit_code", result.exit_code) if report else result.exit_code
    return Execution(
        backend=result.backend or executor.name,
        exit_code=exit_code,
        stdout=program.get("stdout") or ("" if report else result.stdout[-4000:]),
        stderr=program.get("stderr") or ("" if report else result.stderr[-4000:]),
        duration_s=result.duration_s,
        timed_out=result.timed_out or bool(program.get("timed_out")),
        truncated=result.truncated,
        tests=_results(report, result, tests),
        artifacts=(
            await asyncio.to_thread(save_artifacts, result, artifact_dir) if result.files else {}
        ),
        warnings=result.warnings,
        limits_hit=result.limits_hit,
        harness_ok=report is not None,
    )
