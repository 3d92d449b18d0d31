"""Opening the reply journal (``replies.py``) of a checkpoint store, from its saver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from autorust.storage.encryption import sealed
from autorust.storage.pg_holders import pool_of
from autorust.storage.replies import PostgresReplies, ReplyJournal, SqliteReplies, sqlite_replies


async def _sqlite_file(saver: Any) -> str | None:
    """The file of a SQLite saver's connection (None: in memory, or not SQLite)."""
    conn = getattr(saver, "conn", None)
    if conn is None:
        return None
    async with saver.lock, conn.execute("PRAGMA database_list") as cursor:
        rows = await cursor.fetchall()
    return next((row[2] for row in rows if row[1] == "main" and row[2]), None)


def _cipher_of(saver: Any) -> Any:
    """The key the saver's checkpoints are encrypted with (None: not encrypted)."""
    return getattr(getattr(saver, "serde", None), "cipher", None)


@asynccontextmanager
async def open_reply_journal(saver: Any) -> AsyncIterator[ReplyJournal | None]:
    """The reply journal of ``saver``'s store, sealed with the same key: a connection of its own
    to a SQLite file, the saver's pool in PostgreSQL (whose table the store's setup made).
    None for another kind of saver (an in-memory one)."""
    cipher = _cipher_of(saver)
    if isinstance(saver, AsyncSqliteSaver):
        path = await _sqlite_file(saver)
        if path is None:
            yield None
            return
        replies = await sqlite_replies(path)
        try:
            yield ReplyJournal(sealed(await SqliteReplies.open(replies), cipher))
        finally:
            await replies.close()
        return
    if (pool := pool_of(saver)) is not None:  # PostgreSQL
        yield ReplyJournal(sealed(PostgresReplies(pool), cipher))
        return
    yield None
