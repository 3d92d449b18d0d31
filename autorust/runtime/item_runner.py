"""One image of a batch, however it runs: the contract, the decision, the batch loop.

A batch works the same way whether the graph runs in this process (runtime/batch.py) or on a
LangGraph server (runtime/remote.py). What differs is only how one item is run, behind the
``ItemRunner`` contract. What an item's thread calls for (skip, resume, retry from the last
good checkpoint, start) is decided by ``next_action`` for both, and the checkpoint a retry
starts from by ``last_good``. ``ItemBatch`` is the one loop that groups identical inputs, gates
how many images are worked on at once, records results in input order and writes the item
folders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel

from autorust.graph.routing import STOPPED
from autorust.outcomes import SETTLED, ItemResult, failed_item
from autorust.reporting.item_files import write_item
from autorust.runtime.inputs import InputGroup, group_by_content

Action = Literal["skip", "resume", "retry_from_last_good", "start"]


def next_action(status: str | None, has_pending_next: bool, force: bool) -> Action:
    """What a batch does with an item's thread. ``status``: the thread's state status, None when
    it has no state (never started, or killed before its input was saved); ``has_pending_next``:
    the graph has steps left to run (crashed, drained, or paused at an approval).

    - ``start``: ``--force``, or nothing to continue (a leftover thread is deleted first);
    - ``resume``: steps are pending: continue them;
    - ``skip``: ended with a verdict (``SETTLED``);
    - ``retry_from_last_good``: ended ``error`` or ``budget_exceeded`` (not a verdict): rerun from
      the newest checkpoint before the failure (``start`` when there is none).
    """
    if force or status is None:
        return "start"
    if has_pending_next:
        return "resume"
    if status in SETTLED:
        return "skip"
    if status in STOPPED:
        return "retry_from_last_good"
    return "resume"  # e.g. "running" with nothing left: continuing it changes nothing


class RetryFrom(NamedTuple):
    """Where a retry starts: ``history[index]``; ``lost``: the model calls the failed steps made
    (billed) that are not in that checkpoint; when there are any, they are written onto it as
    ``as_node`` (the node that produced it) so the item's ledger keeps them."""

    index: int
    lost: list[Any]
    as_node: str | None


def last_good(
    history: Sequence[tuple[dict[str, Any], Sequence[str]]], failed_calls: Sequence[Any]
) -> RetryFrom | None:
    """The newest checkpoint that still had work to do and no error. ``history``: the thread's
    checkpoints newest first, each as (values, next); ``failed_calls``: the failed state's model
    calls. None when no checkpoint qualifies (the item starts over)."""
    for index, (values, pending) in enumerate(history):
        if pending and "image_path" in values and values.get("status") not in STOPPED:
            lost = list(failed_calls[len(values.get("model_calls") or ()) :])
            parent = history[index + 1][1] if index + 1 < len(history) else ()
            if not lost or not parent:
                return RetryFrom(index, [], None)
            return RetryFrom(index, lost, parent[0])
    return None


Slot = AbstractAsyncContextManager[Any]


class ItemRunner(Protocol):
    """Runs one image (identical bytes are run once) to its outcome."""

    async def run(self, image: Path, sha256: str, slot: Slot) -> ItemResult | None:
        """The item's result; None when it did not reach one (a drain stopped it, or it never
        started). Hold ``slot`` while working on the image; it may be given back while waiting
        (for another worker's claim)."""
        ...


class BatchEvent(BaseModel):
    kind: str  # "item_started" | "item_finished" | "file_not_processed"
    image_path: str
    result: ItemResult | None = None
    reason: str | None = None  # why a file of the folder is not processed


EventSink = Callable[[BatchEvent], None]


class ItemBatch:
    """The batch loop both modes share. ``output_dir``: where each finished item's folder is
    written (none: results are only returned); ``on_event`` sees each ``item_finished``, after
    its folder is written."""

    def __init__(
        self,
        images: list[Path],
        *,
        max_in_flight: int = 32,
        on_event: EventSink | None = None,
        output_dir: Path | None = None,
    ) -> None:
        self.images = images
        self.max_in_flight = max_in_flight
        self.on_event = on_event or (lambda event: None)
        self.output_dir = output_dir
        self.results: dict[str, ItemResult] = {}
        self.drained: list[str] = []  # images stopped by a drain (checkpointed, not finished)

    def record(self, image: Path, result: ItemResult) -> ItemResult:
        self.results[str(image)] = result
        if self.output_dir is not None:
            write_item(self.output_dir, result)
        self.on_event(BatchEvent(kind="item_finished", image_path=str(image), result=result))
        return result

    async def _group(self, group: InputGroup, runner: ItemRunner, gate: Slot) -> None:
        """One item per distinct content; its copies get the same outcome under their names."""
        if group.error is not None:
            self.record(Path(group.path), failed_item(group.path, group.error))
            return
        assert group.sha256 is not None  # grouping read the file, or set an error
        result = await runner.run(Path(group.path), group.sha256, gate)
        if result is None:
            self.drained += [group.path, *group.copies]
            return
        self.record(Path(group.path), result)
        for copy in group.copies:
            twin = result.model_copy(update={"image_path": copy, "duplicate_of": group.path})
            self.record(Path(copy), twin)

    async def run_items(self, runner: ItemRunner) -> list[ItemResult]:
        """Every image's result, in the order given (copies of identical bytes included); the
        images ``runner`` did not finish (a drain) are left out (they are in ``drained``)."""
        gate = asyncio.Semaphore(self.max_in_flight)
        groups = await asyncio.to_thread(group_by_content, self.images)
        await asyncio.gather(*(self._group(group, runner, gate) for group in groups))
        return [self.results[str(image)] for image in self.images if str(image) in self.results]
