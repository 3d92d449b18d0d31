"""CLI start-up stays light: ``--help`` and ``runs list`` import no heavy library.

Observed on 3f763c6: ``autorust --help`` took 2.3 s because the CLI module imported LangGraph,
the model clients, PIL and matplotlib at start. The module sets are checked here (wall time
is the job of ``bench/bench_cli_start.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES=" + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["autorust", *json.loads(sys.argv[1])]
from autorust.cli.main import main
main()
"""
NEVER = (
    "langchain_openai", "openai", "PIL", "numpy", "matplotlib", "skimage", "pytesseract",
    "langgraph.graph", "langgraph.pregel", "langgraph_sdk", "psycopg", "google.auth",
    "autorust.nodes", "autorust.llm", "autorust.imaging", "autorust.runtime.runner",
)  # fmt: skip


def modules_and_output(*args: str) -> tuple[set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES="))), proc.stdout


def modules_for(*args: str) -> set[str]:
    return modules_and_output(*args)[0]


def heavy(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(forbidden) and m.split(".")[0] != "typer")


def test_help_imports_neither_langgraph_nor_langchain_nor_imaging() -> None:
    modules = modules_for("--help")
    assert heavy(modules, (*NEVER, "langgraph", "langchain_core", "pydantic_settings")) == []


@pytest.mark.parametrize("command", [["run", "--help"], ["runs", "--help"]])
def test_sub_command_help_is_light_too(command: list[str]) -> None:
    assert heavy(modules_for(*command), (*NEVER, "langgraph", "langchain_core")) == []


async def _database(path: Path, indexed: bool) -> None:
    """A checkpoint file with one finished run, recorded in the run index or not."""
    from langgraph.checkpoint.base import empty_checkpoint

    from autorust.graph.state import RunState
    from autorust.storage.checkpoints import open_checkpointer
    from autorust.storage.listing import index_run

    async with open_checkpointer(path) as saver:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = RunState(image_path="a.png", status="passed").model_dump()
        config = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
        await saver.aput(config, checkpoint, {"source": "loop", "step": 1}, {})
        if indexed:
            await index_run(saver, "t1")


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "not indexed"])
def test_runs_list_is_light_and_complete(tmp_path: Path, indexed: bool) -> None:
    import asyncio

    db = tmp_path / "checkpoints.sqlite"
    asyncio.run(_database(db, indexed))
    modules, output = modules_and_output("runs", "list", "--db", str(db))
    assert "a.png" in output and "passed" in output
    assert heavy(modules, NEVER) == []
    # runs in the index are listed with the standard library; others from their checkpoints
    assert ("langgraph.checkpoint.base" in modules) is not indexed
