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

Nodes never see the scheduler: a batch compiles the graph with
``build_graph(node_wrapper=scheduler.wrap)``, so each agent's node waits for a slot of its agent.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from autorust.graph.state import AgentName

if TYPE_CHECKING:
    from autorust.graph.workflow import NodeFn

DEFAULT_LIMITS: dict[AgentName, int] = {
    AgentName.VISION: 4,
    AgentName.CODING: 2,
    AgentName.INTERPRETER: 2,
    AgentName.CHECKER: 4,
}


class AgentLoad(BaseModel):
    queued: int = 0
    running: int = 0
    done: int = 0
    limit: int | None = None


class AgentScheduler:
    def __init__(
        self,
        limits: dict[AgentName, int] | None = None,
        *,
        adaptive: bool = False,
        budget: int | None = None,
    ) -> None:
        self.limits = {**DEFAULT_LIMITS, **{AgentName(a): n for a, n in (limits or {}).items()}}
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

    def wrap(self, agent: AgentName, node: NodeFn) -> NodeFn:
        """``node`` running inside a slot of ``agent`` (the graph's ``node_wrapper``)."""

        @functools.wraps(node)
        async def throttled(state: Any, runtime: Any) -> dict[str, Any]:
            async with self.slot(agent):
                return await node(state, runtime)

        return throttled
