"""``cancel`` answers only once the run has stopped: a step in flight (here one that takes a
moment to unwind) must not leave the next ``status`` saying ``running``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from autorust.graph.context import AutorustConfig
from autorust.runtime.mcp_server import Runs


async def _slow_to_stop(stopping: asyncio.Event) -> None:
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        stopping.set()
        await asyncio.sleep(0.3)  # a sandbox job or HTTP call closing down
        raise


async def test_status_after_cancel_says_cancelled_and_finished(tmp_path: Path) -> None:
    runs = Runs(AutorustConfig(home=str(tmp_path)), InMemorySaver())
    stopping = asyncio.Event()
    runs.tasks["t1"] = asyncio.create_task(_slow_to_stop(stopping))  # type: ignore[assignment]
    await asyncio.sleep(0)

    assert await runs.cancel("t1") is True
    state = await runs.status("t1")
    assert stopping.is_set()
    assert state["status"] == "cancelled" and state["finished"] is True
    assert await runs.cancel("t1") is False  # already stopped


async def test_a_run_that_swallows_cancellation_still_reports_cancelled(tmp_path: Path) -> None:
    runs = Runs(AutorustConfig(home=str(tmp_path)), InMemorySaver())

    async def swallow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return None

    runs.tasks["t2"] = asyncio.create_task(swallow())  # type: ignore[assignment]
    await asyncio.sleep(0)
    assert await runs.cancel("t2") is True
    assert (await runs.status("t2"))["status"] == "cancelled"
