"""The latest checkpoint of every thread, read straight from the saver (no graph compiled).

``autorust runs list`` uses it: one query for the thread ids and one checkpoint read per
thread, instead of deserialising every checkpoint ever written, and without importing the
workflow, its nodes or any model client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import StateSnapshot

from autorust.graph.state import RunState
from autorust.storage.pg_holders import PgHolders, live_keys, lock_key, pool_of
from autorust.storage.run_index import RunRow, hold, mark_interrupted, record_run, release

INTERRUPT_CHANNEL = "__interrupt__"


async def thread_ids(saver: BaseCheckpointSaver) -> list[str]:
    conn: Any = getattr(saver, "conn", None)
    query = "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = ''"
    if conn is not None and hasattr(conn, "execute") and hasattr(conn, "commit"):  # aiosqlite
        async with conn.execute(query) as cursor:
            return [row[0] for row in await cursor.fetchall()]
    if conn is not None and hasattr(conn, "connection"):  # psycopg pool
        async with conn.connection() as pg:
            rows = await (await pg.execute(query)).fetchall()
        return [row["thread_id"] if isinstance(row, dict) else row[0] for row in rows]
    return list({item.config["configurable"]["thread_id"] async for item in saver.alist(None)})


def _row(
    thread_id: str, state: RunState, ts: str, awaiting: bool, metadata: dict[str, Any] | None
) -> RunRow:
    return RunRow(
        thread_id=thread_id,
        image_path=state.image_path,
        status=state.status,
        iterations=len(state.attempts),
        updated=datetime.fromisoformat(ts),
        awaiting=awaiting,
        forked_from=(metadata or {}).get("forked_from"),
    )


async def _latest(saver: BaseCheckpointSaver, thread_id: str) -> tuple[RunRow, str] | None:
    found = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    if found is None:
        return None
    values = found.checkpoint.get("channel_values") or {}
    if "image_path" not in values:
        return None
    writes = found.pending_writes or []
    awaiting = any(channel == INTERRUPT_CHANNEL for _, channel, _ in writes)
    row = _row(
        thread_id, RunState.model_validate(values), found.checkpoint["ts"], awaiting,
        found.metadata,
    )  # fmt: skip
    return row, found.config["configurable"]["checkpoint_id"]


def _indexable(saver: BaseCheckpointSaver) -> Any:
    """The saver's aiosqlite connection, or None (PostgreSQL: runs list reads checkpoints)."""
    conn: Any = getattr(saver, "conn", None)
    return conn if conn is not None and hasattr(conn, "commit") else None


async def index_run(saver: BaseCheckpointSaver, thread_id: str) -> None:
    """Record the thread's current row in the run index (SQLite stores)."""
    if _indexable(saver) is None:
        return
    latest = await _latest(saver, thread_id)
    if latest is not None:
        async with saver.lock:  # type: ignore[attr-defined]  # the saver's connection
            await record_run(_indexable(saver), *latest)


@dataclass
class Held:
    """A holding's end: ``finished`` (the run's index row and latest checkpoint id), when the
    body sets it, is recorded in the commit that releases the thread (``index_snapshot``)."""

    finished: tuple[RunRow, str] | None = None


@contextlib.asynccontextmanager
async def holding(
    saver: BaseCheckpointSaver, thread_id: str, holders: PgHolders | None = None
) -> AsyncIterator[Held]:
    """While the body runs, the store says this process works on the thread (SQLite: the run
    index; PostgreSQL: an advisory lock held by ``holders``, the batch's): a run whose holder
    was killed lists as ``interrupted``, not ``running``."""
    held = Held()
    if holders is not None:  # PostgreSQL: a session advisory lock
        await holders.hold(thread_id)
        try:
            yield held
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(holders.release(thread_id))
        return
    conn = _indexable(saver)
    if conn is None:
        yield held
        return
    async with saver.lock:  # type: ignore[attr-defined]
        await hold(conn, thread_id)
    try:
        yield held
    except BaseException:
        await _release_quietly(saver, conn, thread_id, held.finished)
        raise
    if held.finished is None:
        await _release_quietly(saver, conn, thread_id, None)
        return
    async with saver.lock:  # type: ignore[attr-defined]  # the row fails the run, as before
        await asyncio.shield(release(conn, thread_id, held.finished))


async def _release_quietly(
    saver: BaseCheckpointSaver, conn: Any, thread_id: str, finished: tuple[RunRow, str] | None
) -> None:
    with contextlib.suppress(Exception):  # the store that failed the run may fail this
        async with saver.lock:  # type: ignore[attr-defined]
            await asyncio.shield(release(conn, thread_id, finished))


async def index_snapshot(
    saver: BaseCheckpointSaver,
    thread_id: str,
    state: RunState,
    snapshot: StateSnapshot,
    held: Held | None = None,
) -> None:
    """``index_run`` from a snapshot the caller has just read (no second checkpoint read);
    with ``held`` (the run still holds the thread), recorded when it releases it: one commit."""
    conn = _indexable(saver)
    if conn is None or snapshot.created_at is None:
        return
    row = _row(thread_id, state, snapshot.created_at, bool(snapshot.interrupts), snapshot.metadata)
    finished = (row, snapshot.config["configurable"]["checkpoint_id"])
    if held is not None:
        held.finished = finished
        return
    async with saver.lock:  # type: ignore[attr-defined]  # the saver's connection
        await record_run(conn, *finished)


async def latest_runs(
    saver: BaseCheckpointSaver, only: Iterable[str] | None = None
) -> list[RunRow]:
    """One row per run (or per thread in ``only``), newest first."""
    rows: list[RunRow] = []
    for thread_id in await thread_ids(saver) if only is None else only:
        latest = await _latest(saver, thread_id)
        if latest is not None:
            rows.append(latest[0])
    return sorted(rows, key=lambda row: row.updated, reverse=True)


async def current_runs(saver: BaseCheckpointSaver) -> list[RunRow]:
    """``latest_runs`` with killed runs marked ``interrupted`` (PostgreSQL stores; SQLite's run
    index answers that without opening the saver: ``run_index.live_threads``)."""
    rows = await latest_runs(saver)
    if (pool := pool_of(saver)) is not None:
        live = await live_keys(pool)
        mark_interrupted(rows, lambda thread_id: lock_key(thread_id) in live)
    return rows
