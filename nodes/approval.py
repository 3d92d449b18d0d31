"""Optional human checkpoints: approve code before it runs; grant more attempts after failure.

Both nodes are pass-throughs unless enabled in the configuration. When enabled they pause the
run with ``interrupt()``; ``Command(resume={...})`` (CLI: ``autorust runs resume``) continues it.
Resume payloads: ``{"approved": bool, "feedback": str | None, "extra_iterations": int}``.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState
from autorust.nodes.support.shared import app_config


class Decision(BaseModel):
    approved: bool
    feedback: str | None = None
    extra_iterations: int = Field(1, ge=0, le=20)


async def approve_execution_node(
    state: RunState, runtime: Runtime[AutorustConfig]
) -> dict[str, Any]:
    if not app_config(runtime).approve_execution:
        return {}
    assert state.code is not None
    decision = Decision.model_validate(
        interrupt(
            {
                "question": "Run this generated code in the sandbox?",
                "iteration": state.iteration + 1,
                "code": state.code.source,
            }
        )
    )
    if decision.approved:
        return {"approval": "approved"}
    if decision.feedback:  # rejected with advice: straight back to the coder
        return {"approval": "revise", "feedback": decision.feedback}
    return {
        "approval": "rejected",
        "status": "failed",
        "error": "a reviewer rejected running the generated code",
    }


async def final_review_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    config = app_config(runtime)
    if not config.approve_final_failure or state.status != "failed":
        return {}
    verdict = state.verdict
    decision = Decision.model_validate(
        interrupt(
            {
                "question": "The last attempt failed. Grant more attempts?",
                "iterations": state.iteration,
                "feedback": verdict.feedback if verdict else "",
            }
        )
    )
    if not decision.approved or decision.extra_iterations == 0:
        return {}
    return {
        "status": "running",
        "max_iterations": (state.max_iterations or config.max_iterations)
        + decision.extra_iterations,
        "feedback": decision.feedback,
    }
