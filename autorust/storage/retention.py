"""Retention: delete old runs from a checkpoint store (``autorust runs prune``).

A run is old when its thread's latest checkpoint is older than the cutoff. Pruning a run
deletes, on SQLite and PostgreSQL alike:

- the thread's checkpoints, blobs and pending writes (LangGraph's ``adelete_thread``),
- its row in the run index (SQLite) and its claim in a shared batch (PostgreSQL), so a later
  batch runs that image again instead of skipping it as done,
- its model replies in the reply journal.

Result folders (``autorust-out/``) are the user's files and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from autorust.storage.journal import open_reply_journal
from autorust.storage.listing import latest_runs
from autorust.storage.replies import ReplyJournal
from autorust.storage.run_index import RunRow

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SEGMENT = re.compile(r"(\d+)([smhdw])")
AGE_HELP = "an age like 30d, 12h, 90m, 2w or 1d12h (units s, m, h, d, w)"


def parse_age(text: str) -> timedelta:
    """``30d`` -> 30 days; ``1d12h`` -> 36 hours. Raises ``ValueError`` with the allowed form."""
    compact = text.strip().lower()
    if not compact or _SEGMENT.sub("", compact):
        raise ValueError(f"{text!r} is not {AGE_HELP}")
    seconds = sum(int(n) * UNITS[unit] for n, unit in _SEGMENT.findall(compact))
    if seconds <= 0:
        raise ValueError(f"{text!r} is no age: give more than 0 ({AGE_HELP})")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long ago: at most 999999999 days") from None


async def old_runs(
    saver: BaseCheckpointSaver, cutoff: datetime, statuses: Collection[str] | None = None
) -> list[RunRow]:
    """Runs whose latest checkpoint is older than ``cutoff`` (and, if given, of a status)."""
    return [
        row
        for row in await latest_runs(saver)
        if row.updated < cutoff and (not statuses or row.status in statuses)
    ]


async def _drop_index_rows(saver: BaseCheckpointSaver, thread_id: str) -> None:
    conn: Any = getattr(saver, "conn", None)
    if conn is not None and hasattr(conn, "commit"):  # aiosqlite: the run index
        async with saver.lock:  # type: ignore[attr-defined]  # the saver's connection
            await conn.execute("DELETE FROM autorust_runs WHERE thread_id = ?", (thread_id,))
            await conn.commit()
    elif conn is not None and hasattr(conn, "connection"):  # psycopg pool: batch claims
        async with conn.connection() as pg:
            found = await (
                await pg.execute("SELECT to_regclass('autorust_claims') IS NOT NULL AS present")
            ).fetchone()
            present = found["present"] if isinstance(found, dict) else found[0]
            if present:
                await pg.execute("DELETE FROM autorust_claims WHERE item = %s", (thread_id,))


async def delete_run(
    saver: BaseCheckpointSaver, thread_id: str, journal: ReplyJournal | None = None
) -> None:
    """Every trace of one thread in the store: checkpoints and writes, index row or claim,
    journaled replies (``journal``: the store's, ``open_reply_journal``; None opens it).
    Each part is idempotent, so an interrupted prune is finished by running it again."""
    own = open_reply_journal(saver) if journal is None else nullcontext(journal)
    async with own as replies:
        await saver.adelete_thread(thread_id)
        await _drop_index_rows(saver, thread_id)
        if replies is not None:
            await replies.forget(thread_id)


async def prune_runs(
    saver: BaseCheckpointSaver,
    cutoff: datetime,
    statuses: Collection[str] | None = None,
    *,
    dry_run: bool = False,
) -> list[RunRow]:
    """Delete the runs ``old_runs`` selects (nothing with ``dry_run``); returns them."""
    chosen = await old_runs(saver, cutoff, statuses)
    if not dry_run and chosen:
        async with open_reply_journal(saver) as journal:
            for row in chosen:
                await delete_run(saver, row.thread_id, journal)
    return chosen
