"""A one-row-per-run index next to the checkpoints, so ``runs list`` is one query.

The batch records each image's run when it finishes or pauses (thread, image, status,
iterations, and the id of the thread's latest checkpoint at that moment). ``read_index`` uses
only the standard library: a row is trusted when its checkpoint id is still the thread's
latest, and every other thread (run through the API, resumed elsewhere, started before the
index existed) is reported as stale, for the caller to read from the checkpoints themselves.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Iterable
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
);
-- which process is working on a thread now (a row left by a killed process marks the run
-- interrupted: runs list checks whether that process still lives)
CREATE TABLE IF NOT EXISTS autorust_live (
    thread_id TEXT PRIMARY KEY,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    started   TEXT NOT NULL
);
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


async def _upsert(conn: Any, row: RunRow, checkpoint_id: str) -> None:
    await conn.execute(
        "INSERT OR REPLACE INTO autorust_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row.thread_id, checkpoint_id, row.image_path, row.status, row.iterations,
         row.updated.isoformat(), int(row.awaiting), row.forked_from),
    )  # fmt: skip


async def record_run(conn: Any, row: RunRow, checkpoint_id: str) -> None:
    """Upsert the row on an aiosqlite connection (the checkpoint saver's; table made at open)."""
    await _upsert(conn, row, checkpoint_id)
    await conn.commit()


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


_OWN_START: dict[int, str] = {}  # pid -> its start time: read once per process, not per run


def this_process() -> tuple[str, int, str]:
    pid = os.getpid()  # a forked child has its own pid, hence its own entry
    started = _OWN_START.get(pid)
    if started is None:
        started = _process_start(pid)
        if started:  # an unreadable /proc is read again next time
            _OWN_START[pid] = started
    return socket.gethostname(), pid, started


async def hold(conn: Any, thread_id: str) -> None:
    """Mark the thread as worked on by this process (aiosqlite connection)."""
    await conn.execute("INSERT OR REPLACE INTO autorust_live VALUES (?, ?, ?, ?)",
                       (thread_id, *this_process()))  # fmt: skip
    await conn.commit()


async def release(conn: Any, thread_id: str, finished: tuple[RunRow, str] | None = None) -> None:
    """This process no longer works on the thread; with ``finished`` (the run's row and its
    latest checkpoint id), the row is recorded in the same commit."""
    if finished is not None:
        await _upsert(conn, *finished)
    await conn.execute("DELETE FROM autorust_live WHERE thread_id = ? AND pid = ?",
                       (thread_id, os.getpid()))  # fmt: skip
    await conn.commit()


def is_alive(host: str, pid: int, started: str) -> bool:
    """Whether the holder still runs; a holder on another host is assumed alive."""
    if host != socket.gethostname():
        return True
    return bool(started) and _process_start(pid) == started


def live_threads(path: str | Path) -> set[str]:
    """Threads a living process works on now (standard library only)."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=5)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "autorust_live" not in tables:
            return set()
        holders = conn.execute("SELECT thread_id, host, pid, started FROM autorust_live").fetchall()
    finally:
        conn.close()
    return {thread for thread, *holder in holders if is_alive(*holder)}


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


def mark_interrupted(rows: Iterable[RunRow], is_live: Callable[[str], bool]) -> None:
    """A ``running`` row no living process works on was killed or stopped mid-run."""
    for row in rows:
        if row.status == "running" and not row.awaiting and not is_live(row.thread_id):
            row.status = "interrupted"
