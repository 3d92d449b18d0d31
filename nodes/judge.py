"""Judge: the verdict of an attempt, from executed evidence only, and the loop decision.

Passed means: every spec test passed (or, for a figure, render-and-compare accepted the
rendering) and no reviewer counterexample confirmed against the image failed. Nothing a model
says can pass code that failed a test, or fail code that passed them all.

When a dispute corrected or dropped a test, the same code is executed again against the
changed spec (no attempt is charged) and the verdict lists which tests changed and why; if no
executable test is left, the run ends ``unverified``.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Attempt, CounterexampleRecord, RunState, Verdict
from autorust.nodes.support.evidence import evidence_problems
from autorust.nodes.support.shared import app_config


def _counterexample_failure(record: CounterexampleRecord) -> str:
    test = record.test
    subject = test.call if test.call is not None else f"stdin {test.stdin!r}"
    expected = test.expected if test.call is not None else repr(test.expected_stdout)
    return (
        f"reviewer test {test.name!r} (confirmed against the image): {subject}: expected "
        f"{expected}, got {record.actual}"
    )


def tests_changed(state: RunState) -> list[str]:
    return [
        f"{d.test_name}: {d.decision}"
        + (f" (expected {d.old_expected} -> {d.new_expected})" if d.decision == "correct" else "")
        + f": {d.explanation or d.reason}"
        for d in state.disputes
        if d.iteration == state.iteration and d.decision != "keep"
    ]


def final_verdict(state: RunState) -> Verdict:
    assert state.verdict is not None and state.execution is not None
    draft = state.verdict
    confirmed = [
        r for r in state.counterexamples
        if r.iteration == state.iteration and r.outcome == "confirmed"
    ]  # fmt: skip
    failures = [*draft.failed_checks, *(_counterexample_failure(r) for r in confirmed)]
    passed = draft.passed and not confirmed
    score = draft.score
    if confirmed and draft.figure is None:
        total = len(state.execution.tests) + len(confirmed)
        score = round(state.execution.tests_passed / total, 4)
    feedback = list(failures)
    review = state.review
    if not passed and review is not None:
        if review.feedback:
            feedback.append(f"Reviewer advice: {review.feedback}")
        feedback += [f"Reviewer concern: {c}" for c in review.concerns[:5]]
    return draft.model_copy(
        update={
            "passed": passed,
            "score": score if passed or score < 1 else 0.99,
            "failed_checks": failures,
            "feedback": "\n".join(feedback),
            "tests_changed": tests_changed(state),
            "evidence": draft.evidence
            + (f"; {len(confirmed)} reviewer test(s) failed" if confirmed else ""),
        }
    )


async def judge_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec and state.code and state.execution, "judge runs after the checker"
    config = app_config(runtime)
    if state.recheck:
        if problems := evidence_problems(state.spec):
            return {
                "status": "unverified",
                "recheck": False,
                "error": "after the disputed tests were dropped nothing executable is left: "
                + "; ".join(problems),
            }
        return {"pending_review": None}  # same code, changed tests: the interpreter runs again
    verdict = final_verdict(state)
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
        "pending_review": None,
    }
