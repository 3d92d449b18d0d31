"""Per-agent concurrency for a batch: fixed limits, or an adaptive shared budget.

Policy
- fixed: each agent has its own limit (defaults: vision 4, coding 2, interpreter 2, checker 4);
  a waiting call runs as soon as its agent has a free slot.
- adaptive: all agents share one budget (default: the sum of the fixed limits), and every
  free slot goes to the waiting call of the **image that started first**, whichever agent it
  waits for. Capacity therefore follows the work: the agent most images wait at (the
  bottleneck) gets most of the budget, idle capacity of the others is lent to it, and it
  flows back as soon as their queues grow. Nothing is pre-empted: a running call finishes.
- in both modes an agent's own queue is served oldest image first, so images in their second
  attempt finish before newer ones start: work in flight drains instead of piling up, which
  keeps the end of a batch from trailing (measured in ``bench/bench_batch.py``). The batch
  registers each image's thread with ``scheduler.image``; calls without one count from their
  arrival.
- images start one at a time: the batch waits for an image's first node to ask for a slot
  (``scheduler.image(thread_id, first_call)``) before it starts the next one.

Nodes never see the scheduler: a batch compiles the graph with
``build_graph(node_wrapper=scheduler.wrap)``, so each agent's node waits for a slot of its agent.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langgraph.config import get_config
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


@dataclass
class _Image:
    started: float  # monotonic time: its calls queue behind those of older images
    first_call: asyncio.Event | None  # set when a node of the image first asks for a slot


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
        # per agent a heap of (image start, arrival, future): oldest image first
        self._waiters: dict[str, list[tuple[float, int, asyncio.Future[None]]]] = {
            agent: [] for agent in self.limits
        }
        self._arrivals = itertools.count()
        self._running = dict.fromkeys(self.limits, 0)
        self._done = dict.fromkeys(self.limits, 0)
        self._images: dict[str, _Image] = {}  # thread id -> the image its runs belong to

    @contextmanager
    def image(self, thread_id: str, first_call: asyncio.Event | None = None) -> Iterator[None]:
        """In this context, the nodes of thread ``thread_id`` belong to an image started now;
        ``first_call`` is set when one of them first asks for an agent slot."""
        self._images[thread_id] = _Image(time.monotonic(), first_call)
        try:
            yield
        finally:
            self._images.pop(thread_id, None)

    def _eligible(self, agent: str) -> bool:
        if self.adaptive:
            return sum(self._running.values()) < self.budget
        return self._running[agent] < self.limits[agent]

    def _dispatch(self) -> None:
        for queue in self._waiters.values():  # drop cancelled waiters first: they hold no place
            while queue and queue[0][2].done():
                heapq.heappop(queue)
        while True:
            candidates = [a for a, q in self._waiters.items() if q and self._eligible(a)]
            if not candidates:
                return
            # fixed mode: every eligible agent gets its slot anyway; adaptive: oldest image first
            agent = min(candidates, key=lambda a: self._waiters[a][0][:2])
            *_, future = heapq.heappop(self._waiters[agent])
            if future.done():  # its waiter was cancelled
                continue
            self._running[agent] += 1
            future.set_result(None)

    def _queued(self, agent: str) -> int:
        return sum(not future.done() for *_, future in self._waiters[agent])

    @asynccontextmanager
    async def slot(self, agent: str, started: float | None = None) -> AsyncIterator[None]:
        """A slot of ``agent``; waiting calls of the image ``started`` first go first (calls
        without a start count from their arrival)."""
        if agent not in self.limits:
            yield
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        arrival = time.monotonic()
        entry = (arrival if started is None else started, next(self._arrivals), future)
        heapq.heappush(self._waiters[agent], entry)
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
                queued=self._queued(agent),
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
            image = self._images.get(get_config()["configurable"].get("thread_id", ""))
            if image is not None and image.first_call is not None:
                image.first_call.set()
            async with self.slot(agent, image.started if image else None):
                return await node(state, runtime)

        return throttled
