"""Token usage per agent, per item and per batch, from the ``model_calls`` kept in state."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

from autorust.graph.state import ModelCall

DEFAULT_PRICES = Path(__file__).with_name("prices.toml")


class ModelPrice(BaseModel):
    input: float = Field(ge=0, description="$ per 1M input tokens")
    output: float = Field(ge=0, description="$ per 1M output tokens")
    cached_input: float | None = Field(
        None, ge=0, description="$ per 1M input tokens read from the prompt cache (default: input)"
    )
    batch_input: float | None = Field(None, ge=0, description="Batch API rate (default: input)")
    batch_cached_input: float | None = Field(None, ge=0)
    batch_output: float | None = Field(None, ge=0, description="Batch API rate (default: output)")

    def for_batch(self) -> ModelPrice:
        """The rates of a call made through the provider's Batch API."""
        cached = self.batch_cached_input
        if cached is None:
            cached = self.cached_input if self.batch_input is None else self.batch_input
        return ModelPrice(
            input=self.input if self.batch_input is None else self.batch_input,
            output=self.output if self.batch_output is None else self.batch_output,
            cached_input=cached,
        )


class PriceTable(BaseModel):
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    def price_for(self, model: str) -> ModelPrice | None:
        matches = [prefix for prefix in self.models if model.startswith(prefix)]
        return self.models[max(matches, key=len)] if matches else None

    def cost(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        batch: bool = False,
    ) -> float | None:
        """``cached_input_tokens`` are part of ``input_tokens``, priced at the cached rate;
        ``batch``: the call went through the Batch API (its rates)."""
        price = self.price_for(model)
        if price is None:
            return None
        if batch:
            price = price.for_batch()
        cached = min(max(cached_input_tokens, 0), input_tokens)
        cached_rate = price.input if price.cached_input is None else price.cached_input
        total = (
            (input_tokens - cached) * price.input
            + cached * cached_rate
            + output_tokens * price.output
        )
        return round(total / 1e6, 6)


@cache
def _load_prices(path: str | None, batch: bool) -> PriceTable:
    table = PriceTable.model_validate(tomllib.loads(Path(path or DEFAULT_PRICES).read_text()))
    if batch:
        return PriceTable(models={name: p.for_batch() for name, p in table.models.items()})
    return table


def load_prices(path: str | None = None, *, batch: bool = False) -> PriceTable:
    """``batch``: every price at the provider's batch rates (a ``--batch-api`` run)."""
    return _load_prices(path, batch)


class AgentUsage(BaseModel):
    calls: int = 0
    regenerations: int = 0
    retries: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None

    def add(self, other: AgentUsage) -> None:
        self.calls += other.calls
        self.regenerations += other.regenerations
        self.retries += other.retries
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
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


def summarize_usage(calls: Iterable[ModelCall], prices: PriceTable | None = None) -> UsageSummary:
    """Totals per agent and overall; ``cost_usd`` where the price table knows the model."""
    prices = prices or load_prices()
    summary = UsageSummary()
    for call in calls:
        usage = AgentUsage(
            calls=1,
            regenerations=len(call.regenerations),
            retries=call.retries,
            input_tokens=call.input_tokens,
            cached_input_tokens=call.cached_input_tokens,
            output_tokens=call.output_tokens,
            latency_s=call.latency_s,
            cost_usd=prices.cost(
                call.model, call.input_tokens, call.output_tokens, call.cached_input_tokens
            ),
        )
        summary.per_agent.setdefault(call.agent, AgentUsage()).add(usage)
        summary.total.add(usage)
    return summary
