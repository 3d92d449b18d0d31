"""Per-agent concurrency for a batch: fixed limits, or an adaptive shared budget.

Policy
- fixed: each agent has its own limit (defaults: vision 4, coding 2, interpreter 2, checker 4);
  a waiting call runs as soon as its agent has a free slot.
- adaptive: all agents share one budget (default: the sum of the fixed limits). Whenever a
  slot is free, it goes to the agent with the **longest queue** at that moment; ties go to the
  agent whose first waiter has waited longest. Capacity therefore follows the work: when
  coding is the bottleneck, idle vision/checker capacity is lent to it, and it flows back as
  soon as their queues grow again. Every agent keeps at most ``budget`` slots, and nothing is
  pre-empted: a running call always finishes.

Nodes never see the scheduler: ``graph/workflow.py`` wraps each node so that, while a batch
has set ``ACTIVE_SCHEDULER``, the node waits for a slot of its agent.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from pydantic import BaseModel

AGENTS = ("vision", "coding", "interpreter", "checker")
DEFAULT_LIMITS = {"vision": 4, "coding": 2, "interpreter": 2, "checker": 4}


class AgentLoad(BaseModel):
    queued: int = 0
    running: int = 0
    done: int = 0
    limit: int | None = None


class AgentScheduler:
    def __init__(
        self,
        limits: dict[str, int] | None = None,
        *,
        adaptive: bool = False,
        budget: int | None = None,
    ) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        if any(value < 1 for value in self.limits.values()):
            raise ValueError(f"every agent needs at least one slot: {self.limits}")
        self.adaptive = adaptive
        self.budget = budget or sum(self.limits.values())
        self._waiters: dict[str, deque[tuple[float, asyncio.Future[None]]]] = {
            agent: deque() for agent in self.limits
        }
        self._running = dict.fromkeys(self.limits, 0)
        self._done = dict.fromkeys(self.limits, 0)

    def _eligible(self, agent: str) -> bool:
        if self.adaptive:
            return sum(self._running.values()) < self.budget
        return self._running[agent] < self.limits[agent]

    def _dispatch(self) -> None:
        while True:
            candidates = [a for a, q in self._waiters.items() if q and self._eligible(a)]
            if not candidates:
                return
            agent = max(candidates, key=lambda a: (len(self._waiters[a]), -self._waiters[a][0][0]))
            _, future = self._waiters[agent].popleft()
            if future.done():  # its waiter was cancelled
                continue
            self._running[agent] += 1
            future.set_result(None)

    @asynccontextmanager
    async def slot(self, agent: str) -> AsyncIterator[None]:
        if agent not in self.limits:
            yield
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[agent].append((time.monotonic(), future))
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(agent, finished=False)
            raise
        try:
            yield
        finally:
            self._release(agent, finished=True)

    def _release(self, agent: str, *, finished: bool) -> None:
        self._running[agent] -= 1
        if finished:
            self._done[agent] += 1
        self._dispatch()

    def snapshot(self) -> dict[str, AgentLoad]:
        """Queue depth, in-flight and finished calls per agent (for progress and tests)."""
        return {
            agent: AgentLoad(
                queued=sum(not f.done() for _, f in self._waiters[agent]),
                running=self._running[agent],
                done=self._done[agent],
                limit=None if self.adaptive else self.limits[agent],
            )
            for agent in self.limits
        }


ACTIVE_SCHEDULER: ContextVar[AgentScheduler | None] = ContextVar("autorust_scheduler", default=None)
