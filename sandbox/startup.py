"""How a sandbox's interpreter starts: ``python -S`` with what ``site`` would have set.

Starting the supervisor the plain way costs most of a sandbox start: ``site`` (every ``.pth``
file of the venv, an editable install's import hook among them) and compiling the
supervisor's source. Both are done once per interpreter on the host instead: the interpreter
is asked for its ``sys.path`` and prefixes after ``site`` ran, and the supervisor is compiled
here when the interpreter reads the host's bytecode (same magic number). The sandbox starts
with ``-S`` (the environment's ``PYTHON*`` settings still apply), sets those paths and the
``exit``/``help`` builtins ``site`` adds, and runs the compiled code. ``.pth`` files that
*run code* are not run in the sandbox (their path lines are in the recorded ``sys.path``).
When the interpreter cannot be asked, the sandbox starts the plain way.
"""

from __future__ import annotations

import binascii
import functools
import importlib.util
import json
import logging
import marshal
import subprocess
from pathlib import Path

import autorust.sandbox.supervisor as supervisor

log = logging.getLogger(__name__)
SUPERVISOR_SOURCE = Path(supervisor.__file__).read_text(encoding="utf-8")
_ASK = (
    "import importlib.util, json, sys; print(json.dumps({'path': sys.path, 'prefix': sys.prefix,"
    " 'exec_prefix': sys.exec_prefix, 'magic': importlib.util.MAGIC_NUMBER.hex()}))"
)
# run by ``python -S -c``: the compiled supervisor is the last argument, its config before it
_BOOT = "import binascii, marshal, sys; exec(marshal.loads(binascii.a2b_base64(sys.argv.pop())))"


@functools.cache
def site_state(python: str) -> dict[str, object] | None:
    """``sys.path`` (with ``''`` first, as for ``python -c``), ``prefix``, ``exec_prefix`` and
    the bytecode magic of ``python`` after ``site`` ran; None if it cannot be asked."""
    try:
        done = subprocess.run(
            [python, "-s", "-c", _ASK], capture_output=True, text=True, env={}, cwd="/", timeout=60
        )
        state = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.info("sandbox start: %s not asked for its site (%s); plain start", python, exc)
        return None
    if done.returncode != 0 or not isinstance(state, dict):
        return None
    return state


@functools.cache
def _compiled_supervisor() -> str:
    code = compile(SUPERVISOR_SOURCE, "<autorust-supervisor>", "exec")
    return binascii.b2a_base64(marshal.dumps(code), newline=False).decode("ascii")


def supervisor_argv(python: str, config: dict[str, object]) -> list[str]:
    """The command that starts the supervisor with ``config`` under ``python``."""
    state = site_state(python)
    if state is None:
        return [python, "-c", SUPERVISOR_SOURCE, json.dumps(config)]
    config = {**config, "site": state}
    if state.get("magic") == importlib.util.MAGIC_NUMBER.hex():
        return [python, "-S", "-c", _BOOT, json.dumps(config), _compiled_supervisor()]
    return [python, "-S", "-c", SUPERVISOR_SOURCE, json.dumps(config)]
