"""Where the run goes after each node: pure functions of the state."""

from __future__ import annotations

from langgraph.graph import END

from autorust.graph.state import RunState


def route_after_vision(state: RunState) -> str:
    return END if state.status != "running" else "coding"


def route_after_coding(state: RunState) -> str:
    return END if state.status == "error" else "approve_execution"


def route_after_approval(state: RunState) -> str:
    if state.approval == "revise":
        return "coding"
    return END if state.approval == "rejected" else "interpreter"


def route_after_interpreter(state: RunState) -> str:
    """An execution the sandbox itself could not perform ends the run as an error."""
    return END if state.status == "error" else "checker"


def route_after_checker(state: RunState) -> str:
    """Back to coding with feedback until the verdict passes or iterations run out."""
    if state.status == "running":
        return "coding"
    return "final_review" if state.status == "failed" else END


def route_after_final_review(state: RunState) -> str:
    return "coding" if state.status == "running" else END
