"""The latest checkpoint of every thread, read straight from the saver (no graph compiled).

``autorust runs list`` uses it: one query for the thread ids and one checkpoint read per
thread, instead of deserialising every checkpoint ever written, and without importing the
workflow, its nodes or any model client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel

from autorust.graph.state import RunState

INTERRUPT_CHANNEL = "__interrupt__"


class RunRow(BaseModel):
    thread_id: str
    image_path: str
    status: str
    iterations: int
    updated: datetime
    awaiting: bool = False
    forked_from: str | None = None


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


async def latest_runs(saver: BaseCheckpointSaver) -> list[RunRow]:
    """One row per run, newest first."""
    rows: list[RunRow] = []
    for thread_id in await thread_ids(saver):
        found = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
        if found is None:
            continue
        values = found.checkpoint.get("channel_values") or {}
        if "image_path" not in values:
            continue
        state = RunState.model_validate(values)
        writes = found.pending_writes or []
        rows.append(
            RunRow(
                thread_id=thread_id,
                image_path=state.image_path,
                status=state.status,
                iterations=len(state.attempts),
                updated=datetime.fromisoformat(found.checkpoint["ts"]),
                awaiting=any(channel == INTERRUPT_CHANNEL for _, channel, _ in writes),
                forked_from=(found.metadata or {}).get("forked_from"),
            )
        )
    return sorted(rows, key=lambda row: row.updated, reverse=True)
