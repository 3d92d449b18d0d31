"""Checkpointer factory: a SQLite file by default (WAL, synchronous=NORMAL)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import BaseModel

import autorust.graph.state as state_models
from autorust.storage.encryption import (
    MARKER_KEY,
    META_SCHEMA,
    AesGcmCipher,
    check_marker,
    cipher_from_env,
    encrypted,
)
from autorust.storage.replies import POSTGRES_SCHEMA
from autorust.storage.run_index import SCHEMA as RUN_INDEX_SCHEMA

# Module paths under which earlier releases recorded the state classes in checkpoints
# (3f763c6 and before: the top-level ``graph`` package). They are aliased to the current module
# so old checkpoints still load, list, show, resume and fork.
LEGACY_STATE_MODULES = ("graph.state",)


def _alias_legacy_state_modules() -> None:
    for old in LEGACY_STATE_MODULES:
        sys.modules.setdefault(old, state_models)


def serializer(cipher: AesGcmCipher | None = None) -> SerializerProtocol:
    """Checkpoint serde that may rebuild exactly our state models and nothing else; encrypted
    (LangGraph's ``EncryptedSerializer``) when a key is given."""
    _alias_legacy_state_modules()
    models = [
        name
        for name, value in vars(state_models).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == state_models.__name__
    ]
    plain = JsonPlusSerializer(
        allowed_msgpack_modules=[
            (module, name)
            for module in (state_models.__name__, *LEGACY_STATE_MODULES)
            for name in sorted(models)
        ]
    )
    return encrypted(plain, cipher)


async def _sqlite_key_check(conn: Any) -> AesGcmCipher | None:
    """The key (``AUTORUST_CHECKPOINT_KEY``) against the store's marker; marks a new store."""
    cipher = cipher_from_env()
    await conn.execute(META_SCHEMA)
    async with conn.execute(
        "SELECT value FROM autorust_store WHERE key = ?", (MARKER_KEY,)
    ) as cursor:
        row = await cursor.fetchone()
    if (marker := check_marker(row[0] if row else None, cipher)) is not None:
        await conn.execute("INSERT INTO autorust_store VALUES (?, ?)", (MARKER_KEY, marker))
    await conn.commit()
    return cipher


async def _postgres_key_check(pool: Any) -> AesGcmCipher | None:
    cipher = cipher_from_env()
    async with pool.connection() as conn:
        await conn.execute(META_SCHEMA)
        row = await (await conn.execute(
            "SELECT value FROM autorust_store WHERE key = %s", (MARKER_KEY,)
        )).fetchone()  # fmt: skip
        if (marker := check_marker(row["value"] if row else None, cipher)) is not None:
            await conn.execute("INSERT INTO autorust_store VALUES (%s, %s)", (MARKER_KEY, marker))
    return cipher


SETUP_LOCK = 0x6175_746F  # PostgreSQL advisory lock key for schema setup ("auto")


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgres://", "postgresql://"))


@asynccontextmanager
async def open_sqlite_checkpointer(path: str | Path) -> AsyncIterator[AsyncSqliteSaver]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path)
    try:
        # The saver's default fsyncs every write (~5 ms/step here); WAL + NORMAL is ~0.7 ms and
        # still never corrupts the file: a power cut can only lose the newest steps.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        cipher = await _sqlite_key_check(conn)
        saver = AsyncSqliteSaver(conn, serde=serializer(cipher))
        await saver.setup()
        await conn.executescript(RUN_INDEX_SCHEMA)
        await conn.commit()
        yield saver
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_setup_lock(pool: Any) -> AsyncIterator[None]:
    """Serialise schema setup between workers that start together.

    Waiters poll ``pg_try_advisory_lock`` outside any transaction: a blocking lock wait would
    hold a transaction open, which the holder's ``CREATE INDEX CONCURRENTLY`` then waits for,
    a deadlock PostgreSQL does not detect.
    """
    async with pool.connection() as conn:
        while not (await (await conn.execute(
            "SELECT pg_try_advisory_lock(%s) AS locked", (SETUP_LOCK,)
        )).fetchone())["locked"]:  # fmt: skip
            await asyncio.sleep(0.1)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))


@asynccontextmanager
async def open_postgres_checkpointer(url: str, *, max_size: int = 16) -> AsyncIterator[Any]:
    """AsyncPostgresSaver over a connection pool (concurrent runs share it)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=30)
    try:
        async with postgres_setup_lock(pool):
            cipher = await _postgres_key_check(pool)
            saver = AsyncPostgresSaver(pool, serde=serializer(cipher))  # type: ignore[arg-type]
            await saver.setup()
            async with pool.connection() as conn:
                await conn.execute(POSTGRES_SCHEMA)
        yield saver
    finally:
        await pool.close()


@asynccontextmanager
async def open_checkpointer(target: str | Path) -> AsyncIterator[BaseCheckpointSaver]:
    """``target``: a SQLite file path, or a ``postgresql://`` URL. Only the checkpointer: the
    reply journal and the PostgreSQL run holders are opened with the batch's resources
    (``autorust/runtime/resources.py``) on this saver."""
    if isinstance(target, str) and is_postgres_url(target):
        async with open_postgres_checkpointer(target) as saver:
            yield saver
        return
    async with open_sqlite_checkpointer(target) as saver:
        yield saver
