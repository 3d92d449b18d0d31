"""The latest checkpoint of every thread, read straight from the saver (no graph compiled).

``autorust runs list`` uses it: one query for the thread ids and one checkpoint read per
thread, instead of deserialising every checkpoint ever written, and without importing the
workflow, its nodes or any model client.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from autorust.graph.state import RunState
from autorust.storage.run_index import RunRow, record_run

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


async def _latest(saver: BaseCheckpointSaver, thread_id: str) -> tuple[RunRow, str] | None:
    found = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    if found is None:
        return None
    values = found.checkpoint.get("channel_values") or {}
    if "image_path" not in values:
        return None
    state = RunState.model_validate(values)
    writes = found.pending_writes or []
    row = RunRow(
        thread_id=thread_id,
        image_path=state.image_path,
        status=state.status,
        iterations=len(state.attempts),
        updated=datetime.fromisoformat(found.checkpoint["ts"]),
        awaiting=any(channel == INTERRUPT_CHANNEL for _, channel, _ in writes),
        forked_from=(found.metadata or {}).get("forked_from"),
    )
    return row, found.config["configurable"]["checkpoint_id"]


async def index_run(saver: BaseCheckpointSaver, thread_id: str) -> None:
    """Record the thread's current row in the run index (SQLite stores)."""
    conn: Any = getattr(saver, "conn", None)
    if conn is None or not hasattr(conn, "commit"):
        return  # PostgreSQL: runs list reads the checkpoints
    latest = await _latest(saver, thread_id)
    if latest is not None:
        async with saver.lock:  # type: ignore[attr-defined]  # the saver's connection
            await record_run(conn, *latest)


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
