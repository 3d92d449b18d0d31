"""checker agent: hard evidence first, then the model's review -> Verdict, and the loop decision."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import (
    AgentName,
    Attempt,
    Execution,
    FigureComparison,
    Review,
    RunState,
    Verdict,
)
from autorust.imaging.figure_compare import compare_figures
from autorust.nodes.shared import ModelCallError, agent_tools, ask_model, run_config

AGENT = AgentName.CHECKER
TAIL_CHARS = 2_000


def hard_failures(execution: Execution) -> list[str]:
    """Checks that fail regardless of what any model thinks, each with expected vs actual."""
    failures: list[str] = []
    if execution.timed_out:
        failures.append(f"the run timed out after {execution.duration_s:.1f}s")
    elif execution.exit_code != 0:
        failures.append(f"the program exited with code {execution.exit_code}")
    for test in execution.tests:
        if test.passed:
            continue
        line = f"test {test.name!r} failed: expected {test.expected}, got {test.actual}"
        if test.error:
            line += f" (error: {test.error.strip().splitlines()[-1] if test.error.strip() else ''})"
        failures.append(line)
    return failures


FIGURE_FILE = "output.png"


async def figure_check(
    state: RunState, threshold: float
) -> tuple[FigureComparison | None, list[str]]:
    """Render-and-compare for figure tasks: the comparison and any hard failures."""
    assert state.execution is not None
    rendered = state.execution.artifacts.get(FIGURE_FILE)
    if rendered is None:
        return None, [f"no {FIGURE_FILE} was produced: save the figure with "
                      f"fig.savefig({FIGURE_FILE!r})"]  # fmt: skip
    figure = await asyncio.to_thread(compare_figures, state.image_path, rendered)
    if figure.meets(threshold):
        return figure, []
    return figure, [
        f"the rendering differs from the target image (similarity {figure.score:.2f}, "
        f"needed {threshold:.2f}): "
        + "; ".join(figure.differences or ["no specific difference found"])
    ]


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


def combine(
    execution: Execution,
    failures: list[str],
    review: Review,
    figure: FigureComparison | None = None,
) -> Verdict:
    hard_ok = not failures
    passed = hard_ok and review.passed
    if figure is not None:
        test_ratio = figure.score
    elif execution.tests:
        test_ratio = execution.tests_passed / len(execution.tests)
    else:
        test_ratio = float(hard_ok)
    feedback_parts = [*failures]
    if review.feedback:
        feedback_parts.append(review.feedback)
    if not passed and not feedback_parts:
        feedback_parts.append("The reviewer rejected the program: " + "; ".join(review.issues))
    return Verdict(
        passed=passed,
        score=round((test_ratio + review.score) / 2, 4),
        failed_checks=failures + ([] if review.passed else review.issues),
        feedback="\n".join(feedback_parts),
        hard_evidence_ok=hard_ok,
        review=review,
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
    tools = await agent_tools(AGENT, config)
    prompt, version = tools.prompt, tools.prompt_version
    messages = prompt.format_messages(
        spec_json=state.spec.model_dump_json(indent=2, exclude={"ocr_text"}),
        source=state.code.source,
        evidence=evidence_text(state.execution, failures)
        + (f"\nfigure comparison with the target: {figure.model_dump_json()}" if figure else ""),
    )
    try:
        review, call = await ask_model(AGENT, tools, messages, Review, state, config)
    except ModelCallError as exc:
        return exc.state_update()
    verdict = combine(state.execution, failures, review, figure)
    next_iteration = state.iteration + 1
    if verdict.passed:
        status = "passed"
    elif next_iteration >= (state.max_iterations or config.max_iterations):
        status = "failed"
    else:
        status = "running"
    attempt = Attempt(
        iteration=state.iteration, code=state.code, execution=state.execution, verdict=verdict
    )
    return {
        "verdict": verdict,
        "attempts": [attempt],
        "iteration": next_iteration,
        "status": status,
        "feedback": None,
        "prompt_versions": {AGENT: version},
        "model_calls": [call],
    }
