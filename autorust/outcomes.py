"""One image's outcome, as every runner (local, batch, remote server) reports it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pydantic import BaseModel

from autorust.graph.state import RunState, RunStatus
from autorust.redaction import redact

FINISHED: tuple[str, ...] = ("passed", "failed", "unverified", "error")
"""A run in one of these states has ended (a worker may mark its claim done)."""
SETTLED: tuple[str, ...] = ("passed", "failed", "unverified")
"""Ended with a verdict: a plain rerun skips these. An ``error`` (model, endpoint or
infrastructure failure) is retried by a plain rerun; ``--force`` reruns everything."""
log = logging.getLogger("autorust.batch")


class NotProcessed(BaseModel):
    """A file of the folder the batch did not work on, and why."""

    image: str
    reason: str


class ItemResult(BaseModel):
    image_path: str
    thread_id: str | None
    status: RunStatus
    iterations: int = 0
    error: str | None = None
    resumed: bool = False
    skipped: bool = False
    awaiting: str | None = None  # the question a paused (interrupted) run waits on
    duplicate_of: str | None = None  # same bytes as this file, which was processed for both
    duration_s: float = 0.0
    state: RunState | None = None


def failed_item(
    image_path: str | Path,
    error: BaseException | str,
    *,
    thread_id: str | None = None,
    state: RunState | None = None,
) -> ItemResult:
    """An ``error`` result (message always redacted) keeping whatever state the thread had."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    message = redact(message)
    log.error(f"{Path(image_path).name}: {message}", extra={"image": str(image_path),
                                                            "status": "error"})  # fmt: skip
    if state is not None:
        state = state.model_copy(update={"status": "error", "error": message})
    return ItemResult(
        image_path=str(image_path),
        thread_id=thread_id,
        status="error",
        error=message,
        iterations=len(state.attempts) if state else 0,
        state=state,
    )


def item_result(
    image_path: str | Path,
    thread_id: str | None,
    state: RunState,
    started: float,
    *,
    skipped: bool = False,
    resumed: bool = False,
) -> ItemResult:
    """The result a thread's state gives (every runner, local or server, builds it here);
    ``started``: the ``time.perf_counter()`` when the item started."""
    return ItemResult(
        image_path=str(image_path),
        thread_id=thread_id,
        status=state.status,
        iterations=len(state.attempts),
        error=state.error,
        resumed=resumed,
        skipped=skipped,
        duration_s=round(time.perf_counter() - started, 3),
        state=state,
    )
