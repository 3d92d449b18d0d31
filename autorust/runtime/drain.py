"""A clean stop: the first SIGTERM/SIGINT drains, a second one stops at once.

Draining uses LangGraph's own cooperative drain (``langgraph.runtime.RunControl``, pinned
langgraph 1.2.x): every run of the batch shares one control; once ``request_drain()`` is
called, each graph run finishes the step in flight, checkpoints it (the runner's durability is
"sync") and stops at the next superstep boundary by raising ``GraphDrained``. The batch starts
no new image while draining. A drained image resumes from that checkpoint on a plain rerun.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl

DRAINED_EXIT_CODE = 75  # EX_TEMPFAIL (sysexits.h): stopped early on request, try again later
STOPPED_EXIT_CODE = 130  # a second signal: stopped at once
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Drain:
    """One per batch. ``control`` is handed to every graph run of the batch."""

    def __init__(self) -> None:
        self.control = RunControl()
        self.signals = 0

    @property
    def requested(self) -> bool:
        return self.control.drain_requested

    def request(self, reason: str = "shutdown") -> None:
        self.control.request_drain(reason)

    def install(
        self,
        task: asyncio.Task[object],
        on_drain: Callable[[str], None] = lambda name: None,
    ) -> Callable[[], None]:
        """Handle SIGTERM/SIGINT on the running loop: the first drains, the second cancels
        ``task`` (stop at once). Returns a function that removes the handlers."""
        loop = asyncio.get_running_loop()

        def handle(signum: signal.Signals) -> None:
            self.signals += 1
            if self.signals == 1:
                self.request(signum.name)
                on_drain(signum.name)
            else:
                task.cancel()

        installed = []
        for signum in SIGNALS:
            try:
                loop.add_signal_handler(signum, handle, signum)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass

        def remove() -> None:
            for signum in installed:
                loop.remove_signal_handler(signum)

        return remove


__all__ = ["DRAINED_EXIT_CODE", "STOPPED_EXIT_CODE", "Drain", "GraphDrained"]
