"""Token usage per agent, per item and per batch, from the ``model_calls`` kept in state."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from graph.state import ModelCall


class AgentUsage(BaseModel):
    calls: int = 0
    regenerations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None

    def add(self, other: AgentUsage) -> None:
        self.calls += other.calls
        self.regenerations += other.regenerations
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.latency_s = round(self.latency_s + other.latency_s, 4)
        if other.cost_usd is not None:
            self.cost_usd = round((self.cost_usd or 0.0) + other.cost_usd, 6)


class UsageSummary(BaseModel):
    per_agent: dict[str, AgentUsage] = Field(default_factory=dict)
    total: AgentUsage = Field(default_factory=AgentUsage)

    def merge(self, other: UsageSummary) -> UsageSummary:
        for agent, usage in other.per_agent.items():
            self.per_agent.setdefault(agent, AgentUsage()).add(usage)
        self.total.add(other.total)
        return self


def summarize_usage(calls: Iterable[ModelCall]) -> UsageSummary:
    summary = UsageSummary()
    for call in calls:
        usage = AgentUsage(
            calls=1,
            regenerations=len(call.regenerations),
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            latency_s=call.latency_s,
        )
        summary.per_agent.setdefault(call.agent, AgentUsage()).add(usage)
        summary.total.add(usage)
    return summary
