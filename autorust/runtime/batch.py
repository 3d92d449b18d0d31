"""Run many images concurrently: one graph thread per image, per-agent slots, resumable."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphDrained
from pydantic import BaseModel, Field

from autorust.graph.context import AutorustConfig
from autorust.llm.batch_stop import BatchStop
from autorust.llm.batch_transport import Collector
from autorust.llm.budget import Budget
from autorust.outcomes import FINISHED, SETTLED, ItemResult, failed_item
from autorust.redaction import redact
from autorust.reporting.usage import load_prices
from autorust.runtime.drain import Drain
from autorust.runtime.identity import thread_id_from_digest
from autorust.runtime.item_runner import BatchEvent, EventSink, ItemBatch, Slot
from autorust.runtime.resources import BatchResources
from autorust.runtime.runner import compile_graph, run_image, state_of
from autorust.runtime.scheduler import AgentScheduler
from autorust.sandbox.base import Executor
from autorust.storage.claims import Claim, PostgresClaims
from autorust.storage.listing import index_run


class BatchOptions(BaseModel):
    concurrency: dict[str, int] = Field(default_factory=dict, description="agent -> slots")
    adaptive: bool = False
    budget: int | None = Field(None, description="shared slots in adaptive mode")
    max_in_flight: int = Field(32, ge=1, description="images being worked on at once")
    force: bool = False


log = logging.getLogger("autorust.batch")


class BatchRun(ItemBatch):
    """A local batch in progress; ``scheduler.snapshot()`` shows per-agent load while it runs.
    ``output_dir``: where item folders are written as items finish (none: not written)."""

    def __init__(
        self,
        images: list[Path],
        config: AutorustConfig,
        checkpointer: BaseCheckpointSaver,
        options: BatchOptions | None = None,
        on_event: EventSink | None = None,
        claims: PostgresClaims | None = None,
        drain: Drain | None = None,
        output_dir: Path | None = None,
        batch_api: Collector | None = None,
        executor: Executor | None = None,
    ) -> None:
        """``batch_api``: a ``--batch-api`` session's collector (batch_api_session.py): the
        model calls go out as provider batches, priced at batch rates. ``executor``: the
        sandbox executor the caller made from ``config.executor`` (None: the process's)."""
        self.options = options or BatchOptions()
        super().__init__(
            images,
            max_in_flight=self.options.max_in_flight,
            on_event=on_event,
            output_dir=output_dir,
        )
        self.config = config
        self.checkpointer = checkpointer
        self.scheduler = AgentScheduler(
            self.options.concurrency, adaptive=self.options.adaptive, budget=self.options.budget
        )
        self.claims = claims
        self.drain = drain or Drain()
        self.started = time.monotonic()
        self.batch_api = batch_api
        self.executor = executor
        self.fingerprint = config.fingerprint()  # hashes the scripted replies: once per batch
        self.budget = Budget(
            max_cost=config.max_cost,
            max_item_cost=config.max_item_cost,
            max_item_tokens=config.max_item_tokens,
            price=load_prices(batch=batch_api is not None).cost,
        )

    async def run(self) -> list[ItemResult]:
        """Every image's result, in the order given (copies of identical bytes included);
        after a drain, only the images that finished (the others are in ``drained``)."""
        graph = compile_graph(self.checkpointer, node_wrapper=self.scheduler.wrap)
        # billing errors stop the batch once (``stop``); the caps hold for the whole batch
        async with BatchResources.open(
            self.checkpointer,
            budget=self.budget,
            stop=BatchStop(),
            collector=self.batch_api,
            executor=self.executor,
        ) as resources:
            runner = LocalItemRunner(self, graph, resources)
            return await self.run_items(runner)


class LocalItemRunner:
    """The ``ItemRunner`` of a local batch: the graph in this process, checkpoints in
    ``batch.checkpointer``, per-agent slots from ``batch.scheduler``, optional claims shared
    with other workers; ``runner.run_image`` decides skip, resume, retry or start."""

    def __init__(self, batch: BatchRun, graph: Any, resources: BatchResources) -> None:
        self.batch = batch
        self.graph = graph
        self.resources = resources
        self._starting = asyncio.Lock()

    async def run(self, image: Path, sha256: str, slot: Slot) -> ItemResult | None:
        """None: a drain stopped it (or it never started)."""
        thread_id = thread_id_from_digest(sha256, self.batch.fingerprint)
        drain, claims = self.batch.drain, self.batch.claims
        if claims is None:
            async with slot:
                if drain.requested:
                    return None
                return await self._attempt(image, thread_id)
        while True:
            async with slot:
                if drain.requested:
                    return None
                claim = await claims.claim(thread_id)
                if claim is not Claim.BUSY:
                    return await self._attempt(image, thread_id, claim)
            # another worker holds it; if that worker dies its lease expires and we take over
            await asyncio.sleep(claims.lease_s / 4)

    async def _attempt(
        self, image: Path, thread_id: str, claim: Claim | None = None
    ) -> ItemResult | None:
        claims = self.batch.claims if claim is Claim.CLAIMED else None
        if (stop := self.resources.stop) is not None and stop.reason is not None:
            if claims:
                await claims.release(thread_id)
            return not_started(image, thread_id, stop.reason)
        self.batch.on_event(BatchEvent(kind="item_started", image_path=str(image)))
        try:
            if claims:
                async with claims.held(thread_id):
                    result = await self._run(image, thread_id)
                if result.status in SETTLED:
                    await claims.finish(thread_id, result.status)
                else:  # paused, or an error a later batch may retry: give the claim back
                    await claims.release(thread_id)
            else:
                result = await self._run(image, thread_id)
        except asyncio.CancelledError:
            if claims:
                await asyncio.shield(claims.release(thread_id))
            raise
        except GraphDrained:  # the step in flight finished and is checkpointed
            if claims:
                await claims.release(thread_id)
            log.info(f"{image.name}: drained", extra={"image": str(image)})
            return None
        except Exception as exc:  # one item's failure must not stop the batch
            if claims:
                await claims.release(thread_id)
            result = await self._failed(image, thread_id, exc)
            try:  # (a run that finished indexes itself)
                await index_run(self.batch.checkpointer, thread_id)
            except Exception as index_exc:  # the store that failed the item may fail this too
                log.warning(f"{image.name}: not in the run index ({redact(str(index_exc))})")
        await self._forget_replies(result)
        return result

    async def _run(self, image: Path, thread_id: str) -> ItemResult:
        # Images start one at a time, each until its first node asks for an agent slot: the
        # checkpoint reads and writes before that share one store connection, and 64 images
        # starting at once would hold back the first model call by all of theirs (0.25 s).
        batch = self.batch
        reached = asyncio.Event()
        with batch.scheduler.image(thread_id, first_call=reached):
            async with self._starting:
                run = asyncio.create_task(run_image(
                    image, batch.config, batch.checkpointer,
                    force=batch.options.force, graph=self.graph, thread_id=thread_id,
                    control=batch.drain.control, resources=self.resources,
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
        journal = self.resources.journal
        finished = result.status in FINISHED and not result.awaiting
        if journal is not None and result.thread_id and finished:
            await journal.forget(result.thread_id)

    async def _failed(self, image: Path, thread_id: str, exc: Exception) -> ItemResult:
        """An error result that keeps whatever the thread had checkpointed (and its usage)."""
        try:
            state = await state_of(self.graph, thread_id)
        except Exception:  # e.g. the checkpoint store itself failed
            state = None
        return failed_item(image, exc, thread_id=thread_id, state=state)


def not_started(image: Path, thread_id: str, reason: str) -> ItemResult:
    """An item the batch did not start after it stopped (a plain rerun starts it)."""
    return ItemResult(
        image_path=str(image),
        thread_id=thread_id,
        status="error",
        error=redact(f"not started: the batch stopped ({reason})"),
    )
