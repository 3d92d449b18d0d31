"""One round of model calls through the Batch API, resumable after the process is killed.

The batch id is committed to the store (the checkpoint file) *before* the run waits on the
batch; a restarted run that reaches the same round (the same pending calls) finds it and
polls that batch instead of submitting the lines again, so no finished or in-flight call is
paid for twice. Lines that a finished batch did not deliver (expired, cancelled, failed) go
out again in the next round, on their own.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autorust.llm.batch_api import BatchApi, BatchLine, LineResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS autorust_batch_rounds (
    round_key TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    lines INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    status TEXT NOT NULL
)
"""


def round_key(lines: Sequence[BatchLine]) -> str:
    """The same pending calls make the same round, whichever process asks."""
    ids = "\n".join(sorted(line.custom_id for line in lines))
    return hashlib.sha256(ids.encode()).hexdigest()


class RoundStore:
    """In-flight batches, by round, in a SQLite file (autocommit: durable on return)."""

    def __init__(self, path: str | Path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(SCHEMA)

    def find(self, key: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            "SELECT batch_id, status FROM autorust_batch_rounds WHERE round_key = ?", (key,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def record(self, key: str, batch_id: str, lines: int) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO autorust_batch_rounds VALUES (?, ?, ?, ?, 'submitted')",
            (key, batch_id, lines, time.time()),
        )

    def finish(self, key: str, status: str) -> None:
        self.conn.execute(
            "UPDATE autorust_batch_rounds SET status = ? WHERE round_key = ?", (status, key)
        )

    def in_flight(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT batch_id FROM autorust_batch_rounds WHERE status = 'submitted'"
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        self.conn.close()


def run_round(
    api: BatchApi,
    store: RoundStore,
    lines: Sequence[BatchLine],
    poll_s: float = 30.0,
    timeout_s: float | None = None,
    on_status: Callable[[Any], None] | None = None,
) -> dict[str, LineResult]:
    """Submit the round (or pick up its batch from an earlier process), wait, collect."""
    if not lines:
        return {}
    key = round_key(lines)
    known = store.find(key)
    if known is None:
        batch_id = api.submit(lines, metadata={"autorust_round": key[:32]})
        store.record(key, batch_id, len(lines))  # before waiting: a killed run resumes here
    else:
        batch_id = known[0]
    batch = api.wait(batch_id, poll_s=poll_s, timeout_s=timeout_s, on_status=on_status)
    results = api.results(batch)
    store.finish(key, batch.status)
    wanted = {line.custom_id for line in lines}
    return {cid: result for cid, result in results.items() if cid in wanted}
