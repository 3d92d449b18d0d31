"""Share one batch between several workers through the PostgreSQL checkpoint database.

Each image (by thread id) is claimed by exactly one worker at a time with a lease. A worker
extends its leases while it works (heartbeat) and marks items done when they finish. When a
worker dies, its leases run out and another worker claims the items and resumes their
threads from the last checkpoint, so finished steps are not redone.

The simple alternative is static sharding: ``--shard i/n`` keeps the images whose content hash
modulo ``n`` is ``i`` (no coordination, no failover).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

from autorust.storage.checkpoints import postgres_setup_lock

SCHEMA = """
CREATE TABLE IF NOT EXISTS autorust_claims (
    item        TEXT PRIMARY KEY,
    worker      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'running',
    outcome     TEXT,
    lease_until TIMESTAMPTZ NOT NULL,
    claims      INT NOT NULL DEFAULT 1,
    updated     TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
CLAIM = """
INSERT INTO autorust_claims (item, worker, lease_until)
VALUES (%(item)s, %(worker)s, now() + make_interval(secs => %(lease)s))
ON CONFLICT (item) DO UPDATE
   SET worker = EXCLUDED.worker, lease_until = EXCLUDED.lease_until,
       claims = autorust_claims.claims + 1, updated = now()
 WHERE autorust_claims.status = 'running'
   AND (autorust_claims.lease_until < now() OR autorust_claims.worker = EXCLUDED.worker)
RETURNING worker
"""


class Claim(StrEnum):
    CLAIMED = "claimed"  # this worker runs the item now
    DONE = "done"  # finished (by anyone): nothing to run
    BUSY = "busy"  # another worker holds a live lease


def parse_shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise ValueError(f"--shard takes I/N with 0 <= I < N, e.g. 0/3 (got {text!r})")
    return int(index), int(count)


def in_shard(sha256_hex: str, shard: tuple[int, int]) -> bool:
    index, count = shard
    return int(sha256_hex[:16], 16) % count == index


class PostgresClaims:
    def __init__(self, pool: AsyncConnectionPool, worker: str, lease_s: float = 60.0) -> None:
        self.pool, self.worker, self.lease_s = pool, worker, lease_s

    async def setup(self) -> None:
        async with postgres_setup_lock(self.pool), self.pool.connection() as conn:
            await conn.execute(SCHEMA)

    async def claim(self, item: str) -> Claim:
        params = {"item": item, "worker": self.worker, "lease": self.lease_s}
        async with self.pool.connection() as conn:
            if await (await conn.execute(CLAIM, params)).fetchone():
                return Claim.CLAIMED
            row = await (
                await conn.execute("SELECT status FROM autorust_claims WHERE item = %s", (item,))
            ).fetchone()
        status = row["status"] if isinstance(row, dict) else row[0]
        return Claim.DONE if status == "done" else Claim.BUSY

    async def finish(self, item: str, outcome: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE autorust_claims SET status = 'done', outcome = %s, updated = now() "
                "WHERE item = %s AND worker = %s",
                (outcome, item, self.worker),
            )

    async def release(self, item: str) -> None:
        """Give an unfinished item back at once (e.g. on Ctrl-C) instead of waiting for expiry."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE autorust_claims SET lease_until = now() "
                "WHERE item = %s AND worker = %s AND status = 'running'",
                (item, self.worker),
            )

    async def _extend(self, item: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE autorust_claims SET lease_until = now() + make_interval(secs => %s) "
                "WHERE item = %s AND worker = %s",
                (self.lease_s, item, self.worker),
            )

    @contextlib.asynccontextmanager
    async def held(self, item: str) -> AsyncIterator[None]:
        """Keep the lease alive while the body runs."""

        stop = asyncio.Event()

        async def beat() -> None:
            # stopped by an event, never cancelled: cancelling a query mid-flight can leave
            # the pooled connection waiting on the server
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.lease_s / 3)
                if not stop.is_set():
                    await self._extend(item)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            stop.set()
            await task
