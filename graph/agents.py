"""The agents' names (no pydantic: the CLI imports this at start)."""

from __future__ import annotations

from enum import StrEnum


class AgentName(StrEnum):
    """The four agents; the one spelling of their names everywhere (nodes, scheduler, config)."""

    VISION = "vision"
    CODING = "coding"
    INTERPRETER = "interpreter"
    CHECKER = "checker"


MODEL_AGENTS: tuple[AgentName, ...] = (AgentName.VISION, AgentName.CODING, AgentName.CHECKER)
"""The agents that call a chat model (the interpreter runs code, it asks no model)."""
