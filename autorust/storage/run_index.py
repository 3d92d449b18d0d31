"""A one-row-per-run index next to the checkpoints, so ``runs list`` is one query.

The batch records each image's run when it finishes or pauses (thread, image, status,
iterations, and the id of the thread's latest checkpoint at that moment). ``read_index`` uses
only the standard library: a row is trusted when its checkpoint id is still the thread's
latest, and every other thread (run through the API, resumed elsewhere, started before the
index existed) is reported as stale, for the caller to read from the checkpoints themselves.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS autorust_runs (
    thread_id     TEXT PRIMARY KEY,
    checkpoint_id TEXT NOT NULL,
    image_path    TEXT NOT NULL,
    status        TEXT NOT NULL,
    iterations    INTEGER NOT NULL,
    updated       TEXT NOT NULL,
    awaiting      INTEGER NOT NULL,
    forked_from   TEXT
)
"""
LATEST = (
    "SELECT thread_id, MAX(checkpoint_id) FROM checkpoints WHERE checkpoint_ns = '' "
    "GROUP BY thread_id"
)


class RunRow(BaseModel):
    thread_id: str
    image_path: str
    status: str
    iterations: int
    updated: datetime
    awaiting: bool = False
    forked_from: str | None = None


async def record_run(conn: Any, row: RunRow, checkpoint_id: str) -> None:
    """Upsert the row on an aiosqlite connection (the checkpoint saver's; table made at open)."""
    await conn.execute(
        "INSERT OR REPLACE INTO autorust_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row.thread_id, checkpoint_id, row.image_path, row.status, row.iterations,
         row.updated.isoformat(), int(row.awaiting), row.forked_from),
    )  # fmt: skip
    await conn.commit()


def read_index(path: str | Path) -> tuple[list[RunRow], set[str]]:
    """(rows that are up to date, thread ids to read from their checkpoints)."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=5)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "checkpoints" not in tables:
            return [], set()
        latest = dict(conn.execute(LATEST).fetchall())
        indexed = (
            conn.execute("SELECT * FROM autorust_runs").fetchall()
            if "autorust_runs" in tables
            else []
        )
    finally:
        conn.close()
    rows: list[RunRow] = []
    for thread, checkpoint, image, status, iterations, updated, awaiting, forked in indexed:
        if latest.get(thread) != checkpoint:
            continue
        rows.append(
            RunRow(
                thread_id=thread,
                image_path=image,
                status=status,
                iterations=iterations,
                updated=datetime.fromisoformat(updated),
                awaiting=bool(awaiting),
                forked_from=forked,
            )
        )
    fresh = {row.thread_id for row in rows}
    return rows, set(latest) - fresh


def now() -> datetime:
    return datetime.now(UTC)
