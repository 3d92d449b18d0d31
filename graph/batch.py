"""Run many images concurrently: one graph thread per image, per-agent slots, resumable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel, Field

from graph.config import AutorustConfig
from graph.runner import ItemResult, compile_graph, run_image
from graph.scheduler import ACTIVE_SCHEDULER, AgentScheduler


class BatchOptions(BaseModel):
    concurrency: dict[str, int] = Field(default_factory=dict, description="agent -> slots")
    adaptive: bool = False
    budget: int | None = Field(None, description="shared slots in adaptive mode")
    max_in_flight: int = Field(32, ge=1, description="images being worked on at once")
    force: bool = False


class BatchEvent(BaseModel):
    kind: str  # "item_started" | "item_finished"
    image_path: str
    result: ItemResult | None = None


EventSink = Callable[[BatchEvent], None]


class BatchRun:
    """A batch in progress; ``scheduler.snapshot()`` shows per-agent load while it runs."""

    def __init__(
        self,
        images: list[Path],
        config: AutorustConfig,
        checkpointer: BaseCheckpointSaver,
        options: BatchOptions | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.images = images
        self.config = config
        self.checkpointer = checkpointer
        self.options = options or BatchOptions()
        self.on_event = on_event or (lambda event: None)
        self.scheduler = AgentScheduler(
            self.options.concurrency, adaptive=self.options.adaptive, budget=self.options.budget
        )
        self.results: dict[str, ItemResult] = {}
        self.started = time.monotonic()

    async def _one(self, image: Path, gate: asyncio.Semaphore, graph: object) -> ItemResult:
        async with gate:
            self.on_event(BatchEvent(kind="item_started", image_path=str(image)))
            try:
                result = await run_image(
                    image, self.config, self.checkpointer, force=self.options.force, graph=graph
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one item's failure must not stop the batch
                result = ItemResult(
                    image_path=str(image),
                    thread_id=None,
                    status="error",
                    error=f"{type(exc).__name__}: {exc}",
                )
            self.results[str(image)] = result
            self.on_event(BatchEvent(kind="item_finished", image_path=str(image), result=result))
            return result

    async def run(self) -> list[ItemResult]:
        gate = asyncio.Semaphore(self.options.max_in_flight)
        graph = compile_graph(self.checkpointer)
        token = ACTIVE_SCHEDULER.set(self.scheduler)
        try:
            return list(await asyncio.gather(*(self._one(i, gate, graph) for i in self.images)))
        finally:
            ACTIVE_SCHEDULER.reset(token)
