"""``autorust doctor`` (and ``autorust config show``): the configuration as each agent will use
it, the sandbox, and a probe of every model endpoint.

Never shows a key: only whether one is set. Exit code 0 when everything is usable, 2 otherwise.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from autorust.cli.config_checks import TOML_FILE, check_key, load_config
from autorust.cli.errors import ConfigError
from autorust.cli.probes import display_url, endpoint_url, probe_endpoint, proxied, started_executor
from autorust.graph.agents import MODEL_AGENTS

if TYPE_CHECKING:
    from autorust.sandbox.base import ExecutorSettings


def _key_env_names() -> set[str]:
    return {
        "AUTORUST_API_KEY", "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY",
        *(f"AUTORUST_{agent.upper()}_API_KEY" for agent in MODEL_AGENTS),
    }  # fmt: skip


def _sources() -> str:
    toml = f"{TOML_FILE.resolve()}" if TOML_FILE.is_file() else "no autorust.toml here"
    keys = _key_env_names()
    names = sorted(
        name for name in os.environ if name.upper().startswith("AUTORUST_") and name not in keys
    )
    env = ", ".join(names) if names else "no AUTORUST_* variables"
    return f"{toml}; {env}"


def doctor(console: Console, *, probe: bool = True) -> int:
    """Print the resolved configuration (and, with ``probe``, check the endpoints and the
    sandbox); the exit code."""
    from autorust.imaging.ocr import ocr_available
    from autorust.llm.models import ModelNotConfiguredError, api_key_for, make_chat_model
    from autorust.llm.strategy_memory import StrategyMemory

    problems: list[str] = []
    try:
        config = load_config()
    except ConfigError as exc:
        console.print(f"[red]problem:[/red] {escape(exc.line())}", soft_wrap=True)
        console.print("1 problem")
        return 2
    console.print(f"configuration: {escape(_sources())}", soft_wrap=True, highlight=False)
    if config.provider == "scripted":
        console.print(f"provider: scripted (replies from {escape(str(config.scripted_replies))})")
    table = Table(
        Column("agent", no_wrap=True), Column("model", overflow="fold"),
        Column("endpoint", overflow="fold"), Column("key", no_wrap=True),
        Column("structured output", overflow="fold"), box=None, pad_edge=False,
    )  # fmt: skip
    memory = StrategyMemory(config.home)
    endpoints: dict[str, list[str]] = {}
    for agent in MODEL_AGENTS:
        settings = config.model_for(agent)
        strategy = settings.structured_output or "auto"
        if strategy == "auto" and (known := memory.get(settings.base_url, settings.model)):
            strategy += f" (works: {known.value})"
        url = endpoint_url(settings) if config.provider == "openai" else None
        key = "yes" if api_key_for(agent) is not None else "no"
        table.add_row(
            agent, escape(settings.model or "-"), escape(_host(url) if url else "offline"),
            key if config.provider == "openai" else "-", strategy,
        )  # fmt: skip
        try:
            check_key(agent, config)
            make_chat_model(agent, config)
        except ConfigError as exc:
            problems.append(exc.line())
            continue
        except ModelNotConfiguredError as exc:
            if agent == "vision" and config.ocr != "off" and ocr_available():
                console.print("no vision model: specs are built from OCR text (tesseract)")
                continue
            first = " ".join(str(exc).splitlines()[0].split())
            if first.startswith("No model is configured"):
                first = (
                    f"no model configured (AUTORUST_{agent.upper()}__MODEL or "
                    "AUTORUST_DEFAULT__MODEL, or `model` in autorust.toml; `autorust demo` "
                    "needs none)"
                )
            problems.append(f"{agent}: {first}")
            continue
        if url:
            endpoints.setdefault(url, []).append(agent)
    console.print(table)
    for url, agents in endpoints.items():
        where = f"endpoint {display_url(url)} ({', '.join(agents)})"
        if not probe:
            continue
        if proxied():
            console.print(f"{escape(where)}: not probed (a proxy is set)", highlight=False)
        elif problem := probe_endpoint(url):
            problems.append(f"{where}: cannot reach it ({problem})")
        else:
            console.print(f"{escape(where)}: reachable", highlight=False)
    kind = config.executor.kind
    if probe:
        try:
            asyncio.run(_start_sandbox(config.executor))
            console.print(f"sandbox: {kind}: starts", highlight=False)
        except ConfigError as exc:
            problems.append(f"sandbox: {kind}: {exc.line()}")
    else:
        console.print(f"sandbox: {kind}", highlight=False)
    store = Path(config.checkpoint_path)
    state = "exists" if store.is_file() else "created by the first run"
    console.print(f"checkpoints: {escape(str(store))} ({state})", highlight=False)
    for problem in problems:
        console.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True, highlight=False)
    if problems:
        console.print(f"{len(problems)} problem(s)")
        return 2
    console.print("all good" if probe else "configuration valid (endpoints not probed)")
    return 0


async def _start_sandbox(settings: ExecutorSettings) -> None:
    """Build the executor, run its start probe, close it."""
    async with started_executor(settings):
        pass


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname:
        return url
    return parts.hostname + (f":{parts.port}" if parts.port else "")
