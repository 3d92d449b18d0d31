"""The online checks: everything that connects somewhere or starts a process before a batch
(or a resume, a fork, ``doctor``) relies on it. The model endpoints (a TCP connect each), the
checkpoint store (SQLite file or PostgreSQL server), the sandbox executor (built and started)
and a LangGraph server. Each problem is one ``ConfigError`` naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from autorust.cli.config_checks import check_writable_dir, env_name
from autorust.cli.errors import ConfigError
from autorust.graph.agents import MODEL_AGENTS

if TYPE_CHECKING:
    from autorust.graph.context import AutorustConfig, ModelSettings
    from autorust.sandbox.base import ExecutorSettings

ENDPOINT_PROBE_S = 3.0


def display_url(url: str) -> str:
    """The URL without its password (database URLs carry credentials)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def check_sqlite_file(option: str, path: Path) -> None:
    if path.is_dir():
        raise ConfigError(option, f"{path} is a folder; give a SQLite file path")
    check_writable_dir(option, path.parent)
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(checkpoints)")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ConfigError(
            option,
            f"{path} is not a usable SQLite checkpoint file ({exc}); move it away or "
            "choose another file",
        ) from None
    if columns and not {"thread_id", "checkpoint_id", "checkpoint"} <= columns:
        raise ConfigError(option, f"{path} holds a 'checkpoints' table of another program")


async def check_postgres(option: str, url: str) -> None:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            option, "PostgreSQL needs the postgres extra: pip install 'autorust[postgres]'"
        ) from None
    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=5)
        await conn.close()
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())[:200].replace(url, display_url(url))
        raise ConfigError(option, f"cannot connect to {display_url(url)} ({detail})") from None


async def check_checkpoint_store(option: str, target: str) -> None:
    if target.startswith(("postgres://", "postgresql://")):
        await check_postgres(option, target)
    elif "://" in target:
        raise ConfigError(option, f"a SQLite file path or a postgresql:// URL (got {target!r})")
    else:
        await asyncio.to_thread(check_sqlite_file, option, Path(target))


def _endpoint_setting(agent: str, config: AutorustConfig) -> str:
    own = getattr(config, agent).base_url
    return env_name((agent if own else "default", "base_url"))


def _reachable(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return "not a URL with a host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=ENDPOINT_PROBE_S):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def endpoint_url(settings: ModelSettings) -> str:
    """Where the agent's requests go: its base_url, else OPENAI_BASE_URL, else OpenAI's."""
    from autorust.llm.strategy_memory import OPENAI_BASE_URL

    return settings.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL


def proxied() -> bool:
    """A proxy does the connecting: a direct probe would say nothing."""
    names = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    return any(os.environ.get(name) for name in names)


def probe_endpoint(url: str) -> str | None:
    """None when a TCP connection to the endpoint opens within ``ENDPOINT_PROBE_S``; else
    what is wrong."""
    if urlsplit(url).scheme not in ("http", "https"):
        return f"must be http(s):// (got {url!r})"
    return _reachable(url)


def check_model_endpoints(config: AutorustConfig, agents: Iterable[str] = MODEL_AGENTS) -> None:
    """A connect probe per configured endpoint: a server that is down stops the batch at the
    start instead of failing every image (skipped behind a proxy, which does the connecting)."""
    if config.provider != "openai" or proxied():
        return
    seen: set[str] = set()
    for agent in agents:
        url = endpoint_url(config.model_for(agent))  # OpenAI's own endpoint included
        if url in seen:
            continue
        seen.add(url)
        setting = _endpoint_setting(agent, config)
        if not config.model_for(agent).base_url:
            setting = "OPENAI_BASE_URL" if os.environ.get("OPENAI_BASE_URL") else "endpoint"
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(setting, f"must be http(s):// (got {url!r})")
        if problem := _reachable(url):
            raise ConfigError(
                setting,
                f"cannot reach the model endpoint {display_url(url)} ({problem}); "
                "is the server running?",
            )


async def check_executor(settings: ExecutorSettings) -> Any:
    """Build the executor and run its start probe; returns it (the batch closes it)."""
    from autorust.sandbox.base import SandboxUnavailableError
    from autorust.sandbox.factory import make_executor

    try:
        executor = await asyncio.to_thread(make_executor, settings)
        if check := getattr(executor, "check", None):
            await check()
    except SandboxUnavailableError as exc:
        raise ConfigError(env_name(("executor",)), str(exc)) from None
    except Exception as exc:
        from autorust.sandbox.cloud_function.client import CloudFunctionError

        if isinstance(exc, CloudFunctionError):
            raise ConfigError(env_name(("executor", "cloud_function_url")), str(exc)) from None
        raise
    return executor


async def close_executor(executor: Any) -> None:
    from autorust.sandbox.factory import close_executor as close

    if executor is not None:
        await close(executor)


@asynccontextmanager
async def started_executor(settings: ExecutorSettings) -> AsyncIterator[Any]:
    """The executor for ``settings``, built and start-probed (``check_executor``), closed when
    the body ends: the one owner of a batch's (a resume's, a fork's, doctor's) sandbox."""
    executor = await check_executor(settings)
    try:
        yield executor
    finally:
        await close_executor(executor)


async def check_langgraph_server(url: str) -> None:
    """``--server``: the server extra is installed and the server answers."""
    try:
        from autorust.runtime.remote import ServerUnavailableError, check_server
    except ImportError:
        raise ConfigError(
            "--server", "needs the server extra: pip install 'autorust[server]'"
        ) from None
    try:
        await check_server(url)
    except ServerUnavailableError as exc:
        raise ConfigError("--server", str(exc)) from None
