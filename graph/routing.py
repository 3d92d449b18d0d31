"""Where the run goes after each node: pure functions of the state.

Each router's ``Literal`` return type is the list of its possible targets; ``add_conditional_
edges`` reads it from there, so the targets are stated once (``"__end__"`` is LangGraph's
``END``).
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END

from autorust.graph.state import RunState

STOPPED = ("error", "budget_exceeded")  # the run ends here; a rerun continues it


def route_after_vision(state: RunState) -> Literal["coding", "__end__"]:
    return END if state.status != "running" else "coding"


def route_after_coding(state: RunState) -> Literal["approve_execution", "__end__"]:
    return END if state.status in STOPPED else "approve_execution"


def route_after_approval(state: RunState) -> Literal["coding", "interpreter", "__end__"]:
    if state.approval == "revise":
        return "coding"
    return END if state.approval == "rejected" else "interpreter"


def route_after_interpreter(state: RunState) -> Literal["checker", "__end__"]:
    """An execution the sandbox itself could not perform ends the run as an error."""
    return END if state.status in STOPPED else "checker"


def _awaits_confirmation(state: RunState) -> bool:
    pending = state.pending_review
    return bool(pending and (pending.counterexamples or pending.disputes))


def route_after_checker(state: RunState) -> Literal["probe", "confirm", "judge", "__end__"]:
    """Counterexamples are probed only for code that passed every test (otherwise the failing
    tests already say what is wrong); disputed tests go to the vision agent."""
    if state.status in STOPPED:
        return END
    draft_passed = state.verdict is not None and state.verdict.passed
    proposes = bool(state.review and state.review.counterexamples)
    if draft_passed and proposes and state.spec is not None and state.spec.kind != "figure":
        return "probe"
    return "confirm" if _awaits_confirmation(state) else "judge"


def route_after_probe(state: RunState) -> Literal["confirm", "judge", "__end__"]:
    if state.status in STOPPED:
        return END
    return "confirm" if _awaits_confirmation(state) else "judge"


def route_after_confirm(state: RunState) -> Literal["judge", "__end__"]:
    return END if state.status in STOPPED else "judge"


def route_after_judge(
    state: RunState,
) -> Literal["interpreter", "coding", "final_review", "__end__"]:
    """Back to coding with feedback until the verdict passes or iterations run out; the same
    code runs again when a dispute changed the tests it was judged by."""
    if state.recheck and state.status == "running":
        return "interpreter"
    if state.status == "running":
        return "coding"
    return "final_review" if state.status == "failed" else END


def route_after_final_review(state: RunState) -> Literal["coding", "__end__"]:
    return "coding" if state.status == "running" else END
