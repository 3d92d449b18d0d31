"""A durable journal of model replies, so a resumed run never repeats a call that returned.

A node's result is checkpointed only when the whole node finishes; a process killed after a
model replied but before that checkpoint would otherwise pay for the same call again on
resume. The journal is a LangChain cache (``BaseCache``) stored next to the checkpoints (same
SQLite file or PostgreSQL database). A reply is committed the moment it arrives, before the
node does anything else with it, keyed by

    thread id + the node's task (``checkpoint_ns``: node name and LangGraph's task id, which is
    the same when the step is re-run after a crash) + the model's settings + the prompt.

Outside a graph run (no thread) nothing is looked up or stored. A new run of a thread (a
rerun, a fork) has new task ids, so it never replays replies from an earlier run; a finished
thread's replies are dropped (``forget``).

It reaches a chat model as that model's own cache (``BaseChatModel.cache``): the batch (or single
run) opens it with ``open_reply_journal`` and passes it down with the run, so concurrent stores
in one process (tests, workers) never see each other's replies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.load import dumps, loads
from langchain_core.outputs import Generation

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS autorust_replies (
    thread_id TEXT NOT NULL,
    task TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    reply TEXT NOT NULL,
    PRIMARY KEY (thread_id, task, prompt_hash)
)
"""
POSTGRES_SCHEMA = SQLITE_SCHEMA


def _step() -> tuple[str, str] | None:
    """(thread id, task) of the graph step running now, or None outside a graph run."""
    from langgraph.config import get_config

    try:
        configurable = get_config().get("configurable", {})
    except RuntimeError:
        return None
    thread, task = configurable.get("thread_id"), configurable.get("checkpoint_ns")
    return (str(thread), str(task)) if thread and task else None


def _prompt_hash(prompt: str, llm_string: str) -> str:
    return hashlib.sha256(f"{llm_string}\0{prompt}".encode()).hexdigest()


class ReplyStore:
    """Where replies live (SQLite connection or PostgreSQL pool)."""

    async def get(self, thread: str, task: str, key: str) -> str | None:
        raise NotImplementedError

    async def put(self, thread: str, task: str, key: str, reply: str) -> None:
        raise NotImplementedError

    async def forget(self, thread: str) -> None:
        raise NotImplementedError


class SqliteReplies(ReplyStore):
    """Replies in the checkpoint file. The keys present are read once at the start, so a fresh
    batch never queries for a reply it cannot have (each query is a thread hop)."""

    def __init__(self, conn: Any, keys: set[tuple[str, str, str]] | None = None) -> None:
        self.conn = conn
        self.keys = keys

    @classmethod
    async def open(cls, conn: Any) -> SqliteReplies:
        async with conn.execute(
            "SELECT thread_id, task, prompt_hash FROM autorust_replies"
        ) as rows:
            keys = {(row[0], row[1], row[2]) for row in await rows.fetchall()}
        return cls(conn, keys)

    async def get(self, thread: str, task: str, key: str) -> str | None:
        if self.keys is not None and (thread, task, key) not in self.keys:
            return None
        async with self.conn.execute(
            "SELECT reply FROM autorust_replies "
            "WHERE thread_id = ? AND task = ? AND prompt_hash = ?",
            (thread, task, key),
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def put(self, thread: str, task: str, key: str, reply: str) -> None:
        # autocommit connection: the reply is durable when this returns
        await self.conn.execute(
            "INSERT OR REPLACE INTO autorust_replies VALUES (?, ?, ?, ?)",
            (thread, task, key, reply),
        )
        if self.keys is not None:
            self.keys.add((thread, task, key))

    async def forget(self, thread: str) -> None:
        if self.keys is not None:
            mine = {k for k in self.keys if k[0] == thread}
            if not mine:
                return  # nothing journaled for it: no query
            self.keys -= mine
        await self.conn.execute("DELETE FROM autorust_replies WHERE thread_id = ?", (thread,))


class PostgresReplies(ReplyStore):
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def get(self, thread: str, task: str, key: str) -> str | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT reply FROM autorust_replies "
                    "WHERE thread_id = %s AND task = %s AND prompt_hash = %s",
                    (thread, task, key),
                )
            ).fetchone()
        if row is None:
            return None
        return row["reply"] if isinstance(row, dict) else row[0]

    async def put(self, thread: str, task: str, key: str, reply: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO autorust_replies VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (thread_id, task, prompt_hash) DO UPDATE SET reply = EXCLUDED.reply",
                (thread, task, key, reply),
            )

    async def forget(self, thread: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM autorust_replies WHERE thread_id = %s", (thread,))


class ReplyJournal(BaseCache):
    """The LangChain cache interface over a ``ReplyStore``, scoped to the current graph step.

    The same prompt asked twice in one step (a regeneration with the same complaint) is two
    calls: each occurrence has its own entry, so a replay after a crash gives the n-th reply
    to the n-th ask, and a fresh ask is never answered with an earlier reply.
    """

    def __init__(self, store: ReplyStore) -> None:
        self.store = store
        self._asked: dict[tuple[str, str, str], int] = {}
        # the hash of the last prompt looked up: LangChain passes the same prompt string to
        # the update that follows a lookup miss, so it is hashed once per call, not twice
        self._last: tuple[str, str, str] | None = None

    def _hash(self, prompt: str, llm_string: str) -> str:
        last = self._last
        if last is not None and last[0] is prompt and last[1] == llm_string:
            return last[2]
        digest = _prompt_hash(prompt, llm_string)
        self._last = (prompt, llm_string, digest)
        return digest

    def _key(self, prompt: str, llm_string: str) -> tuple[tuple[str, str, str], str] | None:
        step = _step()
        if step is None:
            return None
        base = (*step, self._hash(prompt, llm_string))
        return base, f"{base[2]}:{self._asked.get(base, 0)}"

    async def alookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        found = self._key(prompt, llm_string)
        if found is None:
            return None
        base, key = found
        raw = await self.store.get(base[0], base[1], key)
        if raw is None:
            return None
        self._asked[base] = self._asked.get(base, 0) + 1
        return loads(raw, allowed_objects="core")

    async def aupdate(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        found = self._key(prompt, llm_string)
        if found is None:
            return
        base, key = found
        await self.store.put(base[0], base[1], key, dumps(list(return_val)))
        self._asked[base] = self._asked.get(base, 0) + 1

    async def forget(self, thread: str) -> None:
        await self.store.forget(thread)
        for base in [b for b in self._asked if b[0] == thread]:
            del self._asked[base]

    async def aclear(self, **kwargs: Any) -> None:
        raise NotImplementedError("replies are dropped per thread (forget)")

    # The graph's nodes are async; a synchronous model call inside a run is not journaled.
    def lookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        return None

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        return None

    def clear(self, **kwargs: Any) -> None:
        return None


async def sqlite_replies(path: str | Path) -> Any:
    """A connection of its own (the saver's is busy with checkpoints) to the same file."""
    import aiosqlite

    conn = await aiosqlite.connect(path, isolation_level=None)  # autocommit
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")  # survives kill -9; a power cut may lose it
    await conn.execute("PRAGMA busy_timeout=10000")
    await conn.execute(SQLITE_SCHEMA)
    return conn
