"""The four-agent state machine.

``graph`` (no checkpointer) is what LangGraph Studio loads; the application compiles
``build_graph()`` with its own checkpointer, and a batch passes ``node_wrapper`` to run every
agent's node inside that agent's scheduler slot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy

from autorust.graph.context import AutorustConfig
from autorust.graph.routing import (
    route_after_approval,
    route_after_checker,
    route_after_coding,
    route_after_confirm,
    route_after_final_review,
    route_after_interpreter,
    route_after_judge,
    route_after_probe,
    route_after_vision,
)
from autorust.graph.state import MODEL_AGENTS, AgentName, InputState, OutputState, RunState
from autorust.nodes.approval import approve_execution_node, final_review_node
from autorust.nodes.checker import checker_node
from autorust.nodes.coding import coding_node
from autorust.nodes.confirm import confirm_node
from autorust.nodes.interpreter import interpreter_node
from autorust.nodes.judge import judge_node
from autorust.nodes.probe import probe_node
from autorust.nodes.support.shared import redacting, retry_transient
from autorust.nodes.vision import vision_node

NodeFn = Callable[[RunState, Runtime[AutorustConfig]], Awaitable[dict[str, Any]]]
NodeWrapper = Callable[[AgentName, NodeFn], NodeFn]
StepWrapper = Callable[[str, NodeFn, "AgentName | None"], NodeFn]

# The model layer retries transient endpoint errors within each call's budget and turns every
# final model failure into state; the node retries only what escaped it and may pass.
NODE_RETRY = RetryPolicy(
    max_attempts=3,
    initial_interval=1.0,
    backoff_factor=2.0,
    jitter=True,
    retry_on=retry_transient,
)

# node name -> (the agent whose slot it takes, the node); the review probe runs code like the
# interpreter, the confirmation asks the vision model
AGENT_NODES: dict[str, tuple[AgentName, NodeFn]] = {
    "vision": (AgentName.VISION, vision_node),
    "coding": (AgentName.CODING, coding_node),
    "interpreter": (AgentName.INTERPRETER, interpreter_node),
    "checker": (AgentName.CHECKER, checker_node),
    "probe": (AgentName.INTERPRETER, probe_node),
    "confirm": (AgentName.VISION, confirm_node),
}


def build_graph(
    node_wrapper: NodeWrapper | None = None, step_wrapper: StepWrapper | None = None
) -> StateGraph:
    """The workflow; ``node_wrapper(agent, node)`` may wrap each agent's node (e.g. to
    throttle it), ``step_wrapper(name, node, agent)`` every node, inside ``node_wrapper``
    (e.g. to trace it); the graph itself knows nothing about batches or tracing."""

    def step(name: str, node: NodeFn, agent: AgentName | None = None) -> NodeFn:
        return step_wrapper(name, node, agent) if step_wrapper else node

    def agent_node(name: str, agent: AgentName, node: NodeFn) -> NodeFn:
        node = step(name, redacting(node), agent)
        return node_wrapper(agent, node) if node_wrapper else node

    builder = StateGraph(
        RunState,
        input_schema=InputState,
        output_schema=OutputState,
        context_schema=AutorustConfig,
    )
    for name, (agent, node) in AGENT_NODES.items():
        # model calls are retried on transient errors; running code twice would not help
        retry = NODE_RETRY if agent in MODEL_AGENTS else None
        builder.add_node(name, agent_node(name, agent, node), retry_policy=retry)
    builder.add_node("judge", step("judge", judge_node))
    builder.add_node("approve_execution", step("approve_execution", approve_execution_node))
    builder.add_node("final_review", step("final_review", final_review_node))
    builder.add_edge(START, "vision")
    builder.add_conditional_edges("vision", route_after_vision)
    builder.add_conditional_edges("coding", route_after_coding)
    builder.add_conditional_edges("approve_execution", route_after_approval)
    builder.add_conditional_edges("interpreter", route_after_interpreter)
    builder.add_conditional_edges("checker", route_after_checker)
    builder.add_conditional_edges("probe", route_after_probe)
    builder.add_conditional_edges("confirm", route_after_confirm)
    builder.add_conditional_edges("judge", route_after_judge)
    builder.add_conditional_edges("final_review", route_after_final_review)
    return builder


graph = build_graph().compile(name="autorust")
