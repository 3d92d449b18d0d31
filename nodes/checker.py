"""checker agent: hard evidence first, then the model's review -> pending review work.

The verdict rests on executed evidence only (see ``nodes/judge.py``). The model's review can
no longer pass or fail code: it may propose counterexample tests (executed by
``nodes/probe.py``, confirmed against the image by ``nodes/confirm.py``) and dispute spec tests
that failed for several different programs. Since prompt v3 the reviewer is black-box: it sees
the spec and the harness's facts, never the program or what it printed or returned, so no
text the code under test controls can talk it out of proposing tests.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from langgraph.runtime import Runtime
from pydantic import Field, create_model, model_validator

from autorust.graph.context import AutorustConfig
from autorust.graph.state import (
    AgentName,
    Execution,
    FigureComparison,
    PendingReview,
    ProposedTest,
    Review,
    RunState,
    Spec,
    SuspectTest,
    TestResult,
    Verdict,
)
from autorust.imaging.figure_compare import renders_identical
from autorust.imaging.figures.judge import judge_figure
from autorust.imaging.png_budget import png_budget_problem
from autorust.llm.budget import BudgetExceededError
from autorust.nodes.support.evidence import as_test
from autorust.nodes.support.execution import (
    FIGURE_FACTS,
    FIGURE_FILE,
    FITTED_RENDERS,
    SECOND_RENDER,
)
from autorust.nodes.support.shared import (
    ModelCallError,
    agent_tools,
    app_config,
    ask_model,
    spec_json,
)
from autorust.nodes.support.untrusted import UNTRUSTED_RULE, code_for_review, untrusted

AGENT = AgentName.CHECKER
MAX_DISPUTES_PER_RUN = 3
DESCRIBED_FAILURES = 20  # failing tests spelled out for the coder; the rest are counted
VALUE_CHARS = 600  # of each expected/actual/exception text in feedback


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= VALUE_CHARS:
        return text
    return f"{text[:VALUE_CHARS]}...({len(text) - VALUE_CHARS:,} more characters)"


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
    line = f"{subject}: expected {_cut(test.expected)}"
    if test.exception:
        line += f", but it raised {_cut(test.exception)}"
    elif test.error:
        line += f", but {_cut(test.error)}"
    else:
        line += f", got {_cut(test.actual)}"
        if test.note:
            line += f" ({test.note})"
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
    failed = [test for test in execution.tests if not test.passed]
    failures += [describe_test(test) for test in failed[:DESCRIBED_FAILURES]]
    if len(failed) > DESCRIBED_FAILURES:
        failures.append(f"... and {len(failed) - DESCRIBED_FAILURES} more failing tests")
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
        # the sandbox's own words when it refused the file (over its size cap)
        refused = [w for w in state.execution.warnings if w.startswith(f"file {FIGURE_FILE} ")]
        return None, refused or [f"no {FIGURE_FILE} was produced: save the figure with "
                                 f"fig.savefig({FIGURE_FILE!r})"]  # fmt: skip
    # the figure saved again at the target's size and its facts, when the runner made them
    renders = {name: path for name, path in artifacts.items()
               if name in (FIGURE_FILE, *FITTED_RENDERS, FIGURE_FACTS)}  # fmt: skip
    # the job chose these bytes: read their headers before anything decodes them
    for name, path in renders.items():
        if name.endswith(".png"):
            too_big = await asyncio.to_thread(png_budget_problem, path, name=name)
            if too_big is not None:
                return None, [too_big]
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
    if second is not None and await asyncio.to_thread(png_budget_problem, second) is not None:
        second = None  # the first render passed the budget; an oversized second one differs
        failures.append(UNSEEDED)
    if second is not None and not await asyncio.to_thread(renders_identical, rendered, second):
        failures.append(UNSEEDED)
    return figure, failures


def _fact(test: TestResult) -> str:
    """A failed test as the harness saw it, in our own words only: its call or input and the
    expected value come from the spec; what the program returned or printed is left out."""
    subject = test.call if test.call is not None else f"stdin {test.stdin!r}"[:300]
    if test.exception:
        how = "raised an exception"
    elif test.error:
        how = "gave no usable answer (timeout, crash or unreadable value)"
    else:
        how = "returned or printed something else"
    return f"- {test.source} test {test.name!r}: {subject} should give {test.expected}: {how}"


def evidence_text(execution: Execution, failures: list[str]) -> str:
    """What the run showed, for the reviewer, from the harness's facts alone. Nothing the
    program produced (its output, return values, exception messages) reaches the reviewer: it
    has the code, and text the program controls is a channel for instructions to a model."""
    failed = [t for t in execution.tests if not t.passed]
    lines = [
        f"exit code: {execution.exit_code}; timed out: {execution.timed_out}; "
        f"tests passed: {execution.tests_passed}/{len(execution.tests)}",
        *(_fact(t) for t in failed[:20]),
    ]
    if failures and not failed:
        lines.append(f"{len(failures)} other check(s) failed (crash, timeout or limits)")
    if execution.limits_hit:
        lines.append("sandbox limits hit: " + ", ".join(execution.limits_hit))
    return "\n".join(lines)


@functools.lru_cache(maxsize=256)
def review_schema(
    interface: str, function_name: str | None, disputable: bool = True
) -> type[Review]:
    """The reply model for a review of this spec's code: a counterexample that is not a test in
    the spec's grammar goes back to the reviewer with the reason (re-asked), not dropped. The
    model is not asked for what cannot apply (prompt v4 and later send the lean schema): the
    other interface's test fields, and suspect_tests when no test is disputable."""
    spec = Spec(title="-", description="-", interface=interface,  # type: ignore[arg-type]
                function_name=function_name)  # fmt: skip
    other = ("stdin", "expected_stdout") if interface != "stdio" else ("call", "expected")
    unasked = Field(None, json_schema_extra={"reply": False})
    proposed: Any = create_model(
        "ProposedTest",
        __base__=ProposedTest,
        **{name: (str | None, unasked) for name in other},  # type: ignore[call-overload]
    )

    class CheckedReview(Review):
        counterexamples: list[proposed] = Field(  # type: ignore[valid-type]
            default_factory=list, description=Review.model_fields["counterexamples"].description
        )
        suspect_tests: list[SuspectTest] = Field(
            default_factory=list,
            description=Review.model_fields["suspect_tests"].description,
            json_schema_extra=None if disputable else {"reply": False},
        )

        @model_validator(mode="after")
        def _counterexamples_are_tests(self) -> CheckedReview:
            problems = [
                f"counterexample {proposal.name!r}: {problem}"
                for index, proposal in enumerate(self.counterexamples, 1)
                if isinstance(problem := as_test(proposal, spec, index), str)
            ]
            if problems:
                raise ValueError("; ".join(problems))
            return self

    CheckedReview.__name__ = CheckedReview.__qualname__ = "Review"
    return CheckedReview


@functools.cache
def figure_review_schema(disputable: bool) -> type[Review]:
    """A figure's review: ``Review``, without asking for suspect_tests when none is
    disputable."""
    if disputable:
        return Review

    class FigureReview(Review):
        suspect_tests: list[SuspectTest] = Field(
            default_factory=list,
            description=Review.model_fields["suspect_tests"].description,
            json_schema_extra={"reply": False},
        )

    FigureReview.__name__ = FigureReview.__qualname__ = "Review"
    return FigureReview


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
    config = app_config(runtime)
    failures = hard_failures(state.execution)
    figure = None
    if state.spec.kind == "figure":
        figure, figure_failures = await figure_check(state, config.figure_threshold)
        failures += figure_failures
    disputable = disputable_tests(state)
    tools = await agent_tools(AGENT, config)
    messages = tools.prompt.format_messages(
        untrusted_rule=UNTRUSTED_RULE,
        spec_json=spec_json(state.spec, tools.layout),
        source=code_for_review(state.code.source),  # only older templates (v1, v2) show it
        evidence=evidence_text(state.execution, failures)
        + (
            "\nfigure comparison with the target (words are read from the program's render): "
            + untrusted("figure comparison", figure.model_dump_json(), 4000)
            if figure
            else ""
        ),
        disputable=", ".join(disputable) or "none",
    )
    draft = draft_verdict(state.execution, failures, figure)
    schema = (
        figure_review_schema(bool(disputable))
        if state.spec.kind == "figure"
        else review_schema(state.spec.interface, state.spec.function_name, bool(disputable))
    )
    try:
        checked, call = await ask_model(AGENT, tools, messages, schema, state, config)
        review = Review.model_validate(checked.model_dump())  # the state holds the base class
    except BudgetExceededError as exc:  # a cap, not a failed review: stop, resumable
        return exc.state_update()
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
