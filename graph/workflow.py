"""The four-agent state machine. ``graph`` (no checkpointer) is what LangGraph Studio loads;
the CLI compiles ``build_graph()`` with its own checkpointer."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy

from graph.config import AutorustConfig
from graph.scheduler import ACTIVE_SCHEDULER
from graph.state import RunState
from nodes.approval import approve_execution_node, final_review_node
from nodes.checker import checker_node
from nodes.coding import coding_node
from nodes.interpreter import interpreter_node
from nodes.vision import vision_node

NodeFn = Callable[[RunState, Runtime[AutorustConfig]], Awaitable[dict[str, Any]]]


def scheduled(agent: str, node: NodeFn) -> NodeFn:
    """Run ``node`` in a slot of ``agent`` when a batch scheduler is active (else directly)."""

    @functools.wraps(node)
    async def run(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
        scheduler = ACTIVE_SCHEDULER.get()
        if scheduler is None:
            return await node(state, runtime)
        async with scheduler.slot(agent):
            return await node(state, runtime)

    return run


NODE_RETRY = RetryPolicy(max_attempts=3, initial_interval=1.0, backoff_factor=2.0, jitter=True)


def route_after_vision(state: RunState) -> str:
    return END if state.status == "error" else "coding"


def route_after_checker(state: RunState) -> str:
    """Back to coding with feedback until the verdict passes or iterations run out."""
    if state.status == "running":
        return "coding"
    return "final_review" if state.status == "failed" else END


def route_after_coding(state: RunState) -> str:
    return END if state.status == "error" else "approve_execution"


def route_after_approval(state: RunState) -> str:
    if state.approval == "revise":
        return "coding"
    return END if state.approval == "rejected" else "interpreter"


def route_after_final_review(state: RunState) -> str:
    return "coding" if state.status == "running" else END


def build_graph() -> StateGraph:
    builder = StateGraph(RunState, context_schema=AutorustConfig)
    builder.add_node("vision", scheduled("vision", vision_node), retry_policy=NODE_RETRY)
    builder.add_node("coding", scheduled("coding", coding_node), retry_policy=NODE_RETRY)
    builder.add_node("approve_execution", approve_execution_node)
    builder.add_node("interpreter", scheduled("interpreter", interpreter_node))
    builder.add_node("checker", scheduled("checker", checker_node), retry_policy=NODE_RETRY)
    builder.add_node("final_review", final_review_node)
    builder.add_edge(START, "vision")
    builder.add_conditional_edges("vision", route_after_vision, ["coding", END])
    builder.add_conditional_edges("coding", route_after_coding, ["approve_execution", END])
    builder.add_conditional_edges(
        "approve_execution", route_after_approval, ["interpreter", "coding", END]
    )
    builder.add_edge("interpreter", "checker")
    builder.add_conditional_edges("checker", route_after_checker, ["coding", "final_review", END])
    builder.add_conditional_edges("final_review", route_after_final_review, ["coding", END])
    return builder


graph = build_graph().compile(name="autorust")
