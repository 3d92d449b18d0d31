"""checker agent: hard evidence first, then the model's review -> pending review work.

The verdict rests on executed evidence only (see ``nodes/judge.py``). The model's review can
no longer pass or fail code: it may propose counterexample tests (executed by
``nodes/probe.py``, confirmed against the image by ``nodes/confirm.py``) and dispute spec tests
that failed for several different programs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import (
    AgentName,
    Execution,
    FigureComparison,
    PendingReview,
    Review,
    RunState,
    TestResult,
    Verdict,
)
from autorust.imaging.figure_compare import renders_identical
from autorust.imaging.figures.judge import judge_figure
from autorust.nodes.shared import ModelCallError, agent_tools, ask_model, run_config
from autorust.nodes.test_runs import FIGURE_FACTS, FIGURE_FILE, FITTED_RENDERS, SECOND_RENDER

AGENT = AgentName.CHECKER
TAIL_CHARS = 2_000
MAX_DISPUTES_PER_RUN = 3


def describe_test(test: TestResult) -> str:
    """One failing test for the coder: the input, expected and actual as reprs, or the
    exception it raised (never confused with returning None)."""
    if test.call is not None:
        subject = f"test {test.name!r}: {test.call}"
    elif test.stdin is not None:
        subject = f"test {test.name!r} with stdin {test.stdin!r}"
    else:
        subject = f"test {test.name!r}"
    if test.source == "reviewer":
        subject = "reviewer " + subject + " (confirmed against the image)"
    line = f"{subject}: expected {test.expected}"
    if test.exception:
        line += f", but it raised {test.exception}"
    elif test.error:
        line += f", but {test.error}"
    else:
        line += f", got {test.actual}"
    if test.stdout:
        line += f" (it printed {test.stdout[-300:]!r})"
    if test.stderr and not test.exception:
        line += f" (stderr: {test.stderr.strip()[-300:]!r})"
    return line


def hard_failures(execution: Execution) -> list[str]:
    """Checks that fail regardless of what any model thinks, each with expected vs actual."""
    failures: list[str] = []
    if execution.timed_out:
        failures.append(f"the run timed out after {execution.duration_s:.1f}s")
    elif execution.exit_code not in (0, None) and not execution.tests:
        failures.append(f"the program exited with code {execution.exit_code}")
    if not execution.harness_ok and not any(not t.passed for t in execution.tests):
        failures.append("the test harness did not report: the run was cut short")
    failures += [describe_test(test) for test in execution.tests if not test.passed]
    if failures:  # why the sandbox stopped it, when it did: the coder's first clue
        failures += [f"sandbox limit: {limit}" for limit in execution.limits_hit]
    return failures


UNSEEDED = (
    "two renders of the same code differ: the program draws random data without a fixed seed, "
    "so no rendering can match the target; seed it (np.random.seed(0) or "
    "np.random.default_rng(0), random.seed(0)) or use the target's exact values"
)


async def figure_check(
    state: RunState, threshold: float
) -> tuple[FigureComparison | None, list[str]]:
    """Render-and-compare for figure tasks: the comparison and its failed checks (every
    difference the comparison lists fails the figure), plus unseeded randomness."""
    assert state.execution is not None
    artifacts = state.execution.artifacts
    rendered = artifacts.get(FIGURE_FILE)
    if rendered is None:
        return None, [f"no {FIGURE_FILE} was produced: save the figure with "
                      f"fig.savefig({FIGURE_FILE!r})"]  # fmt: skip
    # the figure saved again at the target's size and its facts, when the runner made them
    renders = {name: path for name, path in artifacts.items()
               if name in (FIGURE_FILE, *FITTED_RENDERS, FIGURE_FACTS)}  # fmt: skip
    figure = await asyncio.to_thread(judge_figure, state.image_path, renders, threshold=threshold)
    failures = (
        []
        if figure.passed
        else list(figure.failed_checks)
        or [
            f"the rendering differs from the target image (similarity {figure.score:.2f}, "
            f"needed {threshold:.2f})"
        ]
    )
    second = artifacts.get(SECOND_RENDER)
    if second is not None and not await asyncio.to_thread(renders_identical, rendered, second):
        failures.append(UNSEEDED)
    return figure, failures


def evidence_text(execution: Execution, failures: list[str]) -> str:
    lines = [
        f"backend: {execution.backend}; exit code: {execution.exit_code}; "
        f"timed out: {execution.timed_out}; duration: {execution.duration_s:.2f}s",
        f"tests passed: {execution.tests_passed}/{len(execution.tests)}",
        *(f"- {f}" for f in failures),
    ]
    if execution.stdout:
        lines.append(f"stdout (tail):\n{execution.stdout[-TAIL_CHARS:]}")
    if execution.stderr:
        lines.append(f"stderr (tail):\n{execution.stderr[-TAIL_CHARS:]}")
    if execution.artifacts:
        lines.append(f"files produced: {', '.join(sorted(execution.artifacts))}")
    return "\n".join(lines)


def disputable_tests(state: RunState) -> list[str]:
    """Spec tests that failed now and for an earlier attempt with different code, and were
    not disputed before (each test at most once, at most ``MAX_DISPUTES_PER_RUN``)."""
    assert state.execution is not None and state.code is not None
    if len(state.disputes) >= MAX_DISPUTES_PER_RUN:
        return []
    failing_now = {t.name for t in state.execution.tests if not t.passed and t.source == "spec"}
    disputed = {d.test_name for d in state.disputes}
    failed_before = {
        t.name
        for attempt in state.attempts
        if attempt.code.source != state.code.source
        for t in attempt.execution.tests
        if not t.passed
    }
    return sorted((failing_now & failed_before) - disputed)


def draft_verdict(
    execution: Execution, failures: list[str], figure: FigureComparison | None
) -> Verdict:
    """The verdict the executed evidence supports, before reviewer counterexamples."""
    if figure is not None:
        score, evidence = figure.score, f"render-and-compare similarity {figure.score:.2f}"
    elif execution.tests:
        score = execution.tests_passed / len(execution.tests)
        evidence = f"{execution.tests_passed}/{len(execution.tests)} tests passed"
    else:
        score, evidence = 0.0, "no executed test"
    passed = not failures and (figure is not None or bool(execution.tests))
    return Verdict(
        passed=passed,
        score=round(score if not failures else min(score, 0.99), 4),
        failed_checks=failures,
        feedback="\n".join(failures),
        hard_evidence_ok=not failures,
        evidence=evidence,
        figure=figure,
    )


async def checker_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec and state.code and state.execution, "checker runs after interpreter"
    config = run_config(runtime)
    failures = hard_failures(state.execution)
    figure = None
    if state.spec.kind == "figure":
        figure, figure_failures = await figure_check(state, config.figure_threshold)
        failures += figure_failures
    disputable = disputable_tests(state)
    tools = await agent_tools(AGENT, config)
    messages = tools.prompt.format_messages(
        spec_json=state.spec.model_dump_json(indent=2, exclude={"ocr_text"}),
        source=state.code.source,
        evidence=evidence_text(state.execution, failures)
        + (f"\nfigure comparison with the target: {figure.model_dump_json()}" if figure else ""),
        disputable=", ".join(disputable) or "none",
    )
    draft = draft_verdict(state.execution, failures, figure)
    try:
        review, call = await ask_model(AGENT, tools, messages, Review, state, config)
    except ModelCallError as exc:
        # the review can only add tests, never decide: without it the evidence still stands
        review, call = Review(summary=f"no review: {exc}"), exc.call
        draft = draft.model_copy(update={"evidence": draft.evidence + " (no model review)"})
    suspects = [s for s in review.suspect_tests if s.name in disputable]
    draft = draft.model_copy(update={"review": review})
    return {
        "verdict": draft,
        "review": review,
        "pending_review": PendingReview(disputes=suspects[:MAX_DISPUTES_PER_RUN]),
        "prompt_versions": {AGENT: tools.prompt_version},
        "model_calls": [call] if call is not None else [],
    }
