"""A warm pool: sandboxes started ahead of demand, each used for exactly one job.

``size`` sandboxes are kept started (set it to the interpreter agent's slots). Taking one
hands out a sandbox that is already running its interpreter and at once starts its
replacement, so the next sandbox starts while this job runs (off the critical path of back to
back jobs); after its job the used one is discarded in the background, so isolation stays per
job while a job costs only the exec of its code. The size follows demand: when more jobs run
at once than sandboxes wait, it grows (up to ``max_size``), and it shrinks back to its
configured floor once that many have not been needed for ``SHRINK_AFTER_S``. Nothing here is
bound to one event loop: a pool started under one ``asyncio.run`` keeps serving the next.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

from autorust.sandbox.base import Job, JobResult, SandboxUnavailableError
from autorust.sandbox.instance import SandboxInstance, SandboxStartError, start_sandbox

log = logging.getLogger(__name__)
START_ATTEMPTS = 3
SHRINK_AFTER_S = 60.0
MAX_SIZE = 8  # sandboxes kept waiting at most, whatever the demand (each holds ~20 MB)


class WarmPool:
    def __init__(self, start: Callable[[int], SandboxInstance], size: int, disk_mb: int) -> None:
        self._start = start  # disk_mb -> a freshly spawned sandbox
        self.size = size
        self.floor = size  # the configured size; demand may raise ``size`` above it
        self.max_size = max(size, MAX_SIZE) if size else 0  # 0: one sandbox started per job
        self.in_use = 0
        self._last_busy = time.monotonic()  # when demand last reached ``size``
        self.disk_mb = disk_mb
        self._idle: collections.deque[SandboxInstance] = collections.deque()
        self._closed = False
        self._adding: set[asyncio.Future[None]] = set()
        self._background: set[asyncio.Future[None]] = set()

    def fill(self) -> None:
        """Start sandboxes in the background until ``size`` are waiting or starting."""
        if self._closed:
            return
        while len(self._idle) + self._starting() < self.size:
            task = asyncio.ensure_future(self._add_one())
            self._track(task)
            self._adding.add(task)
            task.add_done_callback(self._adding.discard)

    def _starting(self) -> int:
        """Starts in flight (a loop that ended took its unfinished ones with it)."""
        return sum(
            1 for task in self._adding if not task.done() and not task.get_loop().is_closed()
        )

    def _of_this_loop(self, tasks: set[asyncio.Future[None]]) -> list[asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        return [task for task in tasks if task.get_loop() is loop and not task.done()]

    async def warm(self) -> None:
        """Fill the pool and wait until its sandboxes are started (not necessarily ready)."""
        self.fill()
        await asyncio.gather(*self._of_this_loop(self._adding), return_exceptions=True)

    async def _add_one(self) -> None:
        try:
            instance = await start_sandbox(lambda: self._start(self.disk_mb))
        except SandboxStartError as exc:
            log.warning("warm pool: %s", exc)
            return
        if self._closed:
            await instance.discard()
        else:
            self._idle.append(instance)

    async def take(self, disk_mb: int) -> SandboxInstance:
        """A ready sandbox for one job (started now if none waits, or if the job needs another
        disk size than the pool's)."""
        self.in_use += 1  # counted from the moment it is asked for: demand, not supply
        self._follow_demand(self.in_use)
        try:
            return await self._take(disk_mb)
        except BaseException:
            self.in_use -= 1
            raise

    async def _take(self, disk_mb: int) -> SandboxInstance:
        failures: list[str] = []
        for _ in range(START_ATTEMPTS):
            instance = self._pop() if disk_mb == self.disk_mb else None
            if disk_mb == self.disk_mb:
                self.fill()  # the replacement starts while this job runs
            if instance is None:
                instance = await start_sandbox(lambda: self._start(disk_mb))
            try:
                await instance.ready()
                return instance
            except SandboxStartError as exc:
                failures.append(str(exc))
                self.discard(instance, refill=False)
        raise SandboxStartError(failures[-1])

    def _pop(self) -> SandboxInstance | None:
        while self._idle:
            instance = self._idle.popleft()
            if instance.alive:
                return instance
            self.discard(instance, refill=False)
        return None

    def _follow_demand(self, demand: int) -> None:
        """Grow to ``demand`` jobs at once (up to ``max_size``); shrink one step toward the
        floor when fewer than ``size`` have run at once for ``SHRINK_AFTER_S``."""
        now = time.monotonic()
        if demand >= self.size:
            self._last_busy = now
            self.size = min(self.max_size, max(self.size, demand))
        elif self.size > self.floor and now - self._last_busy > SHRINK_AFTER_S:
            self.size -= 1
            self._last_busy = now
            if len(self._idle) > self.size:
                self.discard(self._idle.pop(), refill=False)

    def release(self, instance: SandboxInstance) -> None:
        """A job's sandbox is done: discard it (its replacement started when it was taken)."""
        self.in_use = max(0, self.in_use - 1)
        self.discard(instance)

    def discard(self, instance: SandboxInstance, refill: bool = True) -> None:
        """Throw a used (or broken) sandbox away and start its replacement."""
        self._track(asyncio.ensure_future(instance.discard()))
        if refill:
            self.fill()

    def _track(self, task: asyncio.Future[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.gather(*self._of_this_loop(self._background), return_exceptions=True)
        idle, self._idle = list(self._idle), collections.deque()
        await asyncio.gather(*(instance.discard() for instance in idle), return_exceptions=True)

    def close_now(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.popleft().discard_now()

    @property
    def idle(self) -> int:
        return len(self._idle)


async def run_in_pool(
    pool: WarmPool, job: Job, *, check: Callable[[], Awaitable[None]], backend: str
) -> JobResult:
    """``job`` in a sandbox taken from ``pool`` (discarded after: one job per sandbox). A
    sandbox that cannot start is the result's ``sandbox_error``, never a failing program."""
    try:
        await check()
        instance = await pool.take(job.limits.disk_mb)
    except (SandboxUnavailableError, SandboxStartError) as exc:
        return JobResult(sandbox_error=str(exc), backend=backend)
    try:
        result = await instance.run(job)
    finally:
        pool.release(instance)
    result.backend = backend
    return result
