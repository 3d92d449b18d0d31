"""Hard spending caps: ``max_cost`` per batch, ``max_item_cost`` and ``max_item_tokens`` per
image (``autorust run --max-cost/--max-item-cost/--max-item-tokens``).

Before each model call the agent's node asks the run's budget (``RunResources.budget``, which
the batch passes with each run): if what was spent (the item's ledger, and the batch's calls
finished or in flight) plus an estimate of this call
(its messages at 4 characters a token, images at 1,500 tokens, the reply at the endpoint's
``max_tokens`` or 1,024) would cross a cap, the call is not sent and the item ends
``budget_exceeded``: not passed, not an error; a rerun with a larger cap continues it from its
last checkpoint (replies already received come from the reply journal, never paid twice).
Calls in flight hold their estimate as a reservation, so concurrent calls cannot all pass the
check together: the spend stays under the cap plus at most one call's estimate error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from autorust.graph.state import ModelCall
from autorust.llm.errors import ModelCallError

Pricer = Callable[[str, int, int, int], float | None]  # model, input, output, cached -> $
IMAGE_TOKENS = 1500  # OpenAI high detail tops out at 1,445 (85 + 8 tiles x 170)
DEFAULT_REPLY_TOKENS = 1024


class BudgetExceededError(ModelCallError):
    """A call was not sent: it could have crossed a spending cap."""

    def state_update(self) -> dict[str, Any]:
        update: dict[str, Any] = {"status": "budget_exceeded", "error": str(self)}
        if self.call is not None and (self.call.input_tokens or self.call.output_tokens):
            update["model_calls"] = [self.call]
        return update


def estimate_tokens(messages: Iterable[Any], reply_tokens: int | None) -> tuple[int, int]:
    chars, images = 0, 0
    for message in messages:
        content = getattr(message, "content", message)
        if isinstance(content, str):
            chars += len(content)
            continue
        for part in content or []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                images += 1
            elif isinstance(part, dict):
                chars += len(str(part.get("text", "")))
    return chars // 4 + images * IMAGE_TOKENS, reply_tokens or DEFAULT_REPLY_TOKENS


@dataclass
class Budget:
    max_cost: float | None = None
    max_item_cost: float | None = None
    max_item_tokens: int | None = None
    price: Pricer = field(default=lambda model, i, o, c: None)
    spent: float = 0.0  # the batch's finished calls
    reserved: float = 0.0  # the batch's calls in flight (their estimates)
    stopped: int = 0  # calls not sent because of a cap

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_cost, self.max_item_cost,
                                            self.max_item_tokens))  # fmt: skip

    def cost_of(self, calls: Iterable[ModelCall]) -> float:
        return sum(
            self.price(c.model, c.input_tokens, c.output_tokens, c.cached_input_tokens) or 0.0
            for c in calls
        )

    def check(
        self, agent: str, model: str, item_calls: list[ModelCall], estimate: tuple[int, int]
    ) -> float:
        """The call's estimated cost (reserved), or raise ``BudgetExceededError``."""
        est_in, est_out = estimate
        est_cost = self.price(model, est_in, est_out, 0) or 0.0
        item_tokens = sum(c.input_tokens + c.output_tokens for c in item_calls)
        item_cost = self.cost_of(item_calls)
        problem = None
        if (
            self.max_item_tokens is not None
            and item_tokens + est_in + est_out > self.max_item_tokens
        ):
            problem = (f"--max-item-tokens {self.max_item_tokens:,}: this image has used "
                       f"{item_tokens:,} tokens and the next {agent} call may use "
                       f"{est_in + est_out:,}")  # fmt: skip
        elif self.max_item_cost is not None and item_cost + est_cost > self.max_item_cost:
            problem = (f"--max-item-cost {self.max_item_cost}: this image has cost "
                       f"${item_cost:.4f} and the next {agent} call may cost "
                       f"${est_cost:.4f}")  # fmt: skip
        elif self.max_cost is not None and self.spent + self.reserved + est_cost > self.max_cost:
            problem = (f"--max-cost {self.max_cost}: the batch has spent ${self.spent:.4f} "
                       f"(${self.reserved:.4f} in flight) and the next {agent} call may cost "
                       f"${est_cost:.4f}")  # fmt: skip
        if problem is not None:
            self.stopped += 1
            raise BudgetExceededError(
                f"{agent} call not sent: it could cross {problem}; rerun with a larger cap "
                "to continue this image",
                ModelCall(agent=agent, iteration=0, model=model),
            )
        self.reserved += est_cost
        return est_cost

    def settle(self, reservation: float, call: ModelCall | None) -> None:
        self.reserved = max(0.0, self.reserved - reservation)
        if call is not None:
            self.spent += self.cost_of([call])
