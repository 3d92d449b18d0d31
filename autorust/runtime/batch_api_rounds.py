"""One round of model calls through the Batch API, resumable after the process is killed.

The batch id is committed to the store (the checkpoint file) *before* the run waits on the
batch; a restarted run that reaches the same round (the same pending calls) finds it and
polls that batch instead of submitting the lines again, so no finished or in-flight call is
paid for twice. Lines that a finished batch did not deliver (expired, cancelled, failed) go
out again in the next round, on their own.
"""

from __future__ import annotations

import asyncio
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


LINES_SCHEMA = """
CREATE TABLE IF NOT EXISTS autorust_batch_lines (
    custom_id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL
)
"""


class RoundCollector:
    """Gathers the model calls of every item in flight into rounds, one batch per round and
    per endpoint and model (a provider batch holds the requests of one model).

    A round goes out when no new call has arrived for ``gather_s`` (all items in flight are
    waiting on a reply, or busy elsewhere: those join the next round). Each line's batch id
    is committed before the wait; a call whose id is already in a batch (a resumed run) waits
    on that batch, never submitted again. A line the batch did not deliver (expired,
    cancelled) is answered as HTTP 503, which the client retries as a new line.
    """

    def __init__(
        self,
        api_for: Callable[[str, str], BatchApi],
        store: RoundStore,
        gather_s: float = 2.0,
        poll_s: float = 30.0,
    ) -> None:
        self.api_for, self.store = api_for, store
        self.gather_s, self.poll_s = gather_s, poll_s
        store.conn.execute(LINES_SCHEMA)
        self.pending: dict[str, tuple[dict[str, Any], tuple[str, str], asyncio.Future]] = {}
        self.waiting: dict[str, asyncio.Future] = {}  # batch id -> its results
        self.rounds: list[str] = []  # batch ids this process submitted
        self._flush: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    def _known_batch(self, line_id: str) -> str | None:
        row = self.store.conn.execute(
            "SELECT batch_id FROM autorust_batch_lines WHERE custom_id = ?", (line_id,)
        ).fetchone()
        return row[0] if row else None

    async def ask(
        self, line_id: str, body: dict[str, Any], endpoint: str, api_key: str
    ) -> tuple[int, dict[str, Any]]:
        if (batch_id := self._known_batch(line_id)) is not None:
            return self._answer(line_id, await self._results(batch_id, (endpoint, api_key)))
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending[line_id] = (body, (endpoint, api_key), future)
        if self._flush is not None:
            self._flush.cancel()
        self._flush = loop.call_later(self.gather_s, lambda: asyncio.ensure_future(self._submit()))
        return await future

    async def _submit(self) -> None:
        async with self._lock:
            taken, self.pending = self.pending, {}
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for cid, (body, where, future) in taken.items():
            groups.setdefault((*where, str(body.get("model"))), {})[cid] = (body, future)
        await asyncio.gather(*(self._one_batch((e, k), g) for (e, k, _), g in groups.items()))

    async def _one_batch(self, where: tuple[str, str], group: dict[str, Any]) -> None:
        lines = [BatchLine(custom_id=cid, body=body) for cid, (body, _) in group.items()]
        try:
            batch_id = await asyncio.to_thread(self.api_for(*where).submit, lines)
            self.store.conn.executemany(  # committed before anyone waits on the batch
                "INSERT OR REPLACE INTO autorust_batch_lines VALUES (?, ?)",
                [(cid, batch_id) for cid in group],
            )
            self.store.record(round_key(lines), batch_id, len(lines))
            self.rounds.append(batch_id)
            results = await self._results(batch_id, where)
        except Exception as exc:
            for _, future in group.values():
                if not future.done():
                    future.set_exception(exc)
            return
        for cid, (_, future) in group.items():
            if not future.done():
                future.set_result(self._answer(cid, results))

    async def _results(self, batch_id: str, where: tuple[str, str]) -> dict[str, LineResult]:
        if batch_id not in self.waiting:
            self.waiting[batch_id] = asyncio.ensure_future(self._wait(batch_id, where))
        return await asyncio.shield(self.waiting[batch_id])

    async def _wait(self, batch_id: str, where: tuple[str, str]) -> dict[str, LineResult]:
        api = self.api_for(*where)
        batch = await asyncio.to_thread(api.wait, batch_id, self.poll_s)
        results = await asyncio.to_thread(api.results, batch)
        self.store.conn.execute(
            "UPDATE autorust_batch_rounds SET status = ? WHERE batch_id = ?",
            (batch.status, batch_id),
        )
        return results

    @staticmethod
    def _answer(line_id: str, results: dict[str, LineResult]) -> tuple[int, dict[str, Any]]:
        result = results.get(line_id)
        if result is None or result.status_code is None:
            error = (result.error if result else None) or {"message": "not delivered"}
            return 503, {"error": {"message": f"batch line not done: {error}"}}
        return result.status_code, result.body or {}
