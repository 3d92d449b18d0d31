"""Run many images concurrently: one graph thread per image, per-agent slots, resumable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphDrained
from pydantic import BaseModel, Field

from autorust.graph.context import AutorustConfig
from autorust.llm.batch_stop import batch_stop, current_stop
from autorust.llm.budget import Budget, spending_caps
from autorust.outcomes import FINISHED, SETTLED, ItemResult, failed_item
from autorust.redaction import redact
from autorust.reporting.usage import load_prices
from autorust.runtime.drain import Drain
from autorust.runtime.identity import thread_id_from_digest
from autorust.runtime.inputs import InputGroup, group_by_content
from autorust.runtime.runner import compile_graph, run_image, state_of
from autorust.runtime.scheduler import AgentScheduler
from autorust.storage.claims import Claim, PostgresClaims
from autorust.storage.listing import index_run
from autorust.storage.replies import current_journal


class BatchOptions(BaseModel):
    concurrency: dict[str, int] = Field(default_factory=dict, description="agent -> slots")
    adaptive: bool = False
    budget: int | None = Field(None, description="shared slots in adaptive mode")
    max_in_flight: int = Field(32, ge=1, description="images being worked on at once")
    force: bool = False


class BatchEvent(BaseModel):
    kind: str  # "item_started" | "item_finished" | "file_not_processed"
    image_path: str
    result: ItemResult | None = None
    reason: str | None = None  # why a file of the folder is not processed


EventSink = Callable[[BatchEvent], None]
log = logging.getLogger("autorust.batch")


class BatchRun:
    """A batch in progress; ``scheduler.snapshot()`` shows per-agent load while it runs."""

    def __init__(
        self,
        images: list[Path],
        config: AutorustConfig,
        checkpointer: BaseCheckpointSaver,
        options: BatchOptions | None = None,
        on_event: EventSink | None = None,
        claims: PostgresClaims | None = None,
        drain: Drain | None = None,
    ) -> None:
        self.images = images
        self.config = config
        self.checkpointer = checkpointer
        self.options = options or BatchOptions()
        self.on_event = on_event or (lambda event: None)
        self.scheduler = AgentScheduler(
            self.options.concurrency, adaptive=self.options.adaptive, budget=self.options.budget
        )
        self.claims = claims
        self.drain = drain or Drain()
        self.drained: list[str] = []  # images stopped by a drain (checkpointed, not finished)
        self.results: dict[str, ItemResult] = {}
        self.started = time.monotonic()
        self.fingerprint = config.fingerprint()  # hashes the scripted replies: once per batch
        self._starting = asyncio.Lock()
        self.budget = Budget(
            max_cost=config.max_cost,
            max_item_cost=config.max_item_cost,
            max_item_tokens=config.max_item_tokens,
            price=load_prices().cost,
        )

    async def _one(
        self, image: Path, sha256: str, gate: asyncio.Semaphore, graph: Any
    ) -> ItemResult | None:
        """None: a drain stopped it (or it never started)."""
        thread_id = thread_id_from_digest(sha256, self.fingerprint)
        if self.claims is None:
            async with gate:
                if self.drain.requested:
                    return None
                return await self._attempt(image, graph, thread_id)
        while True:
            async with gate:
                if self.drain.requested:
                    return None
                claim = await self.claims.claim(thread_id)
                if claim is not Claim.BUSY:
                    return await self._attempt(image, graph, thread_id, claim)
            # another worker holds it; if that worker dies its lease expires and we take over
            await asyncio.sleep(self.claims.lease_s / 4)

    async def _attempt(
        self, image: Path, graph: Any, thread_id: str, claim: Claim | None = None
    ) -> ItemResult | None:
        if (stop := current_stop()) is not None and stop.reason is not None:
            if self.claims and claim is Claim.CLAIMED:
                await self.claims.release(thread_id)
            return self._record(image, not_started(image, thread_id, stop.reason))
        self.on_event(BatchEvent(kind="item_started", image_path=str(image)))
        try:
            if claim is Claim.CLAIMED and self.claims:
                async with self.claims.held(thread_id):
                    result = await self._run(image, graph, thread_id)
                if result.status in SETTLED:
                    await self.claims.finish(thread_id, result.status)
                else:  # paused, or an error a later batch may retry: give the claim back
                    await self.claims.release(thread_id)
            else:
                result = await self._run(image, graph, thread_id)
        except asyncio.CancelledError:
            if self.claims and claim is Claim.CLAIMED:
                await asyncio.shield(self.claims.release(thread_id))
            raise
        except GraphDrained:  # the step in flight finished and is checkpointed
            if self.claims and claim is Claim.CLAIMED:
                await self.claims.release(thread_id)
            log.info(f"{image.name}: drained", extra={"image": str(image)})
            return None
        except Exception as exc:  # one item's failure must not stop the batch
            if self.claims and claim is Claim.CLAIMED:
                await self.claims.release(thread_id)
            result = await self._failed(image, graph, thread_id, exc)
            try:  # (a run that finished indexes itself)
                await index_run(self.checkpointer, thread_id)
            except Exception as index_exc:  # the store that failed the item may fail this too
                log.warning(f"{image.name}: not in the run index ({redact(str(index_exc))})")
        await self._forget_replies(result)
        return self._record(image, result)

    async def _run(self, image: Path, graph: Any, thread_id: str) -> ItemResult:
        # Images start one at a time, each until its first node asks for an agent slot: the
        # checkpoint reads and writes before that share one store connection, and 64 images
        # starting at once would hold back the first model call by all of theirs (0.25 s).
        reached = asyncio.Event()
        with self.scheduler.image(thread_id, first_call=reached):
            async with self._starting:
                run = asyncio.create_task(run_image(
                    image, self.config, self.checkpointer,
                    force=self.options.force, graph=graph, thread_id=thread_id,
                    control=self.drain.control,
                ))  # fmt: skip
                waiting = asyncio.create_task(reached.wait())
                try:
                    await asyncio.wait((run, waiting), return_when=asyncio.FIRST_COMPLETED)
                except asyncio.CancelledError:
                    run.cancel()
                    raise
                finally:
                    waiting.cancel()
            try:
                return await run
            except asyncio.CancelledError:
                run.cancel()
                raise

    async def _forget_replies(self, result: ItemResult) -> None:
        """A finished thread never resumes: its journaled model replies are not needed."""
        journal = current_journal()
        finished = result.status in FINISHED and not result.awaiting
        if journal is not None and result.thread_id and finished:
            await journal.forget(result.thread_id)

    def _record(self, image: Path, result: ItemResult) -> ItemResult:
        self.results[str(image)] = result
        self.on_event(BatchEvent(kind="item_finished", image_path=str(image), result=result))
        return result

    async def _failed(self, image: Path, graph: Any, thread_id: str, exc: Exception) -> ItemResult:
        """An error result that keeps whatever the thread had checkpointed (and its usage)."""
        try:
            state = await state_of(graph, thread_id)
        except Exception:  # e.g. the checkpoint store itself failed
            state = None
        return failed_item(image, exc, thread_id=thread_id, state=state)

    async def _group(self, group: InputGroup, gate: asyncio.Semaphore, graph: Any) -> None:
        """One item per distinct content; its copies get the same outcome under their names."""
        if group.error is not None:
            self._record(Path(group.path), failed_item(group.path, group.error))
            return
        assert group.sha256 is not None  # grouping read the file, or set an error
        result = await self._one(Path(group.path), group.sha256, gate, graph)
        if result is None:
            self.drained += [group.path, *group.copies]
            return
        for copy in group.copies:
            twin = result.model_copy(update={"image_path": copy, "duplicate_of": group.path})
            self._record(Path(copy), twin)

    async def run(self) -> list[ItemResult]:
        """Every image's result, in the order given (copies of identical bytes included);
        after a drain, only the images that finished (the others are in ``drained``)."""
        gate = asyncio.Semaphore(self.options.max_in_flight)
        graph = compile_graph(self.checkpointer, node_wrapper=self.scheduler.wrap)
        groups = await asyncio.to_thread(group_by_content, self.images)
        with batch_stop(), spending_caps(self.budget):  # billing errors stop the batch once
            await asyncio.gather(*(self._group(group, gate, graph) for group in groups))
        return [self.results[str(image)] for image in self.images if str(image) in self.results]


def not_started(image: Path, thread_id: str, reason: str) -> ItemResult:
    """An item the batch did not start after it stopped (a plain rerun starts it)."""
    return ItemResult(
        image_path=str(image),
        thread_id=thread_id,
        status="error",
        error=redact(f"not started: the batch stopped ({reason})"),
    )
