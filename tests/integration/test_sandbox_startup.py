"""A sandbox starts with ``python -S`` and the site state recorded on the host (issue 26): the
job sees the interpreter it would see started the plain way, without paying for ``site``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import autorust.sandbox.startup as startup
from autorust.sandbox.base import Job
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

pytestmark = pytest.mark.bwrap

REPORT = """import builtins, json, sys
print(json.dumps({"path": sys.path[1:], "prefix": sys.prefix, "exec_prefix": sys.exec_prefix,
                  "no_site": sys.flags.no_site,
                  "builtins": [name for name in ("exit", "quit", "help", "copyright", "credits",
                                                 "license") if hasattr(builtins, name)]}))
exit(3)
"""


def plain_start(python: str) -> dict[str, object]:
    """What ``python main.py`` sees when started the plain way (``site`` run)."""
    code = "import json, sys; print(json.dumps([sys.path[1:], sys.prefix, sys.exec_prefix]))"
    done = subprocess.run([python, "-s", "-c", code], capture_output=True, text=True, env={})
    path, prefix, exec_prefix = json.loads(done.stdout)
    return {"path": path, "prefix": prefix, "exec_prefix": exec_prefix}


async def test_a_job_sees_the_plain_interpreter_without_site_having_run() -> None:
    executor = BubblewrapExecutor(warm_pool_size=0)
    try:
        result = await executor.execute(Job(files={"main.py": REPORT}, argv=["python", "main.py"]))
    finally:
        await executor.aclose()
    assert result.exit_code == 3, result.stderr  # the ``exit`` builtin ``site`` would add
    seen = json.loads(result.stdout)
    expected = plain_start(executor.python)
    assert seen["path"] == expected["path"]
    assert (seen["prefix"], seen["exec_prefix"]) == (expected["prefix"], expected["exec_prefix"])
    assert seen["builtins"] == ["exit", "quit", "help", "copyright", "credits", "license"]
    assert seen["no_site"] == 1  # the start skipped site: its cost is what this saves


def test_the_start_command_falls_back_when_the_interpreter_cannot_be_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(startup, "site_state", lambda python: None)
    argv = startup.supervisor_argv("/nowhere/python", {"mode": "bwrap"})
    assert argv[:3] == ["/nowhere/python", "-c", startup.SUPERVISOR_SOURCE]
    assert "site" not in json.loads(argv[3])


def test_another_bytecode_version_gets_the_source_not_the_host_bytecode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = {"path": [""], "prefix": "/p", "exec_prefix": "/p", "magic": "00000000"}
    monkeypatch.setattr(startup, "site_state", lambda python: state)
    argv = startup.supervisor_argv(sys.executable, {"mode": "bwrap"})
    assert argv[1:4] == ["-S", "-c", startup.SUPERVISOR_SOURCE]
    assert json.loads(argv[4])["site"] == state


def test_an_interpreter_that_cannot_start_is_not_asked_again() -> None:
    startup.site_state.cache_clear()
    assert startup.site_state("/nowhere/python") is None
    assert startup.site_state.cache_info().currsize == 1
