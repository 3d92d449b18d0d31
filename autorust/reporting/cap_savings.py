"""What each spending cap did in a batch: how many images it stopped and what it saved.

Saved = the spend not made, estimated per stopped image as what an image that finished (in
this batch or an earlier one) cost on average minus what the stopped image had spent (never
below zero). With no finished image to compare with, the saving is unknown (None), not zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel

CAP_FLAG = re.compile(r"--max-(?:item-)?(?:cost|tokens)")


class Item(Protocol):
    status: str
    error: str | None
    skipped: bool
    duplicate_of: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


class CapSaving(BaseModel):
    cap: str
    items: int
    spent_usd: float
    saved_usd: float | None = None
    saved_tokens: int | None = None


def cap_savings(items: Sequence[Item]) -> list[CapSaving]:
    own = [i for i in items if not i.skipped and i.duplicate_of is None]
    # images finished earlier (skipped now) are measurements of what an image costs too
    finished = [
        i for i in items if i.duplicate_of is None and i.status not in ("budget_exceeded", "error")
    ]
    costs = [i.cost_usd for i in finished if i.cost_usd is not None]
    mean_cost = sum(costs) / len(costs) if costs else None
    mean_tokens = (
        sum(i.input_tokens + i.output_tokens for i in finished) / len(finished)
        if finished
        else None
    )
    savings: dict[str, CapSaving] = {}
    for item in own:
        if item.status != "budget_exceeded":
            continue
        match = CAP_FLAG.search(item.error or "")
        cap = match[0] if match else "cap"
        saving = savings.setdefault(cap, CapSaving(cap=cap, items=0, spent_usd=0.0))
        saving.items += 1
        saving.spent_usd = round(saving.spent_usd + (item.cost_usd or 0.0), 6)
        if mean_cost is not None:
            left = max(0.0, mean_cost - (item.cost_usd or 0.0))
            saving.saved_usd = round((saving.saved_usd or 0.0) + left, 6)
        if mean_tokens is not None:
            left_tokens = max(0, round(mean_tokens) - item.input_tokens - item.output_tokens)
            saving.saved_tokens = (saving.saved_tokens or 0) + left_tokens
    return sorted(savings.values(), key=lambda s: s.cap)


def describe(saving: CapSaving) -> str:
    saved = "unknown (no finished image to compare with)"
    if saving.saved_usd is not None:
        saved = f"~${saving.saved_usd:.4f}"
    elif saving.saved_tokens is not None:
        saved = f"~{saving.saved_tokens:,} tokens"
    return (
        f"{saving.cap} stopped {saving.items} image(s) (they had spent "
        f"${saving.spent_usd:.4f}); saved {saved} of estimated remaining spend"
    )
