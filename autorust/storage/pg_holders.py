"""Which threads a living process works on, in a PostgreSQL store: a session advisory lock per
thread, held on one connection of the process while it runs the thread.

PostgreSQL drops a session's locks when its connection ends, so a process killed on any machine
leaves no holder behind: ``runs list`` lists its runs as ``interrupted``, not ``running``. Keys
use the two-int form (a namespace and a 31-bit hash of the thread id); a hash collision can only
make a killed run look live, never a live one look killed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

NAMESPACE = 0x61727573  # "arus": these locks' first key (pg_locks.classid)
LIVE_KEYS = (
    "SELECT objid::bigint AS key FROM pg_locks "
    "WHERE locktype = 'advisory' AND objsubid = 2 AND classid = %s AND granted"
)


def lock_key(thread_id: str) -> int:
    return int.from_bytes(hashlib.sha256(thread_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


class PgHolders:
    """One pooled connection, taken at the first hold, whose session holds the locks."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._lease: AbstractAsyncContextManager[Any] | None = None
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def hold(self, thread_id: str) -> None:
        async with self._lock:
            if self._conn is None:
                self._lease = self.pool.connection()
                self._conn = await self._lease.__aenter__()
            # try: another process may hold it (the same run started twice): live either way
            await self._conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, lock_key(thread_id))
            )

    async def release(self, thread_id: str) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, lock_key(thread_id))
                )

    async def close(self) -> None:
        """Give the connection back to the pool without any lock still on its session."""
        async with self._lock:
            if self._lease is None:
                return
            try:
                await self._conn.execute("SELECT pg_advisory_unlock_all()")
            finally:
                lease, self._lease, self._conn = self._lease, None, None
                await lease.__aexit__(None, None, None)


async def live_keys(pool: Any) -> set[int]:
    """The lock keys of every thread some living process holds now."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(LIVE_KEYS, (NAMESPACE,))).fetchall()
    return {row["key"] if isinstance(row, dict) else row[0] for row in rows}


def pool_of(saver: Any) -> Any:
    """The connection pool of a PostgreSQL saver; None for another store."""
    pool = getattr(saver, "conn", None)
    return pool if pool is not None and hasattr(pool, "connection") else None


@asynccontextmanager
async def open_holders(saver: Any) -> AsyncIterator[PgHolders | None]:
    """The holders of the process's runs in ``saver``'s PostgreSQL store (None for SQLite,
    whose run index records them); closed, releasing every lock, when the body ends."""
    if (pool := pool_of(saver)) is None:
        yield None
        return
    holders = PgHolders(pool)
    try:
        yield holders
    finally:
        await holders.close()
