"""A checkpoint stays under 1 MB per attempt whatever the job or the model returns (issue 22).

The coder's reply is as large as the reply cap allows, the program floods stdout and stderr,
returns large values and raises long exceptions for 50 tests; the SQLite store (file and WAL)
must grow by less than 1 MB per attempt: the largest checkpoint (the whole state) divided by
the attempts it holds. (SQLite's saver stores the whole state at every step, so the file
itself grows by several checkpoints per attempt; that total is printed too.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autorust.graph.state import RunState
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from tests.support.scripted import scripted_task

pytestmark = pytest.mark.bwrap

ATTEMPTS = 2
HOSTILE = (
    "import sys\n"
    "print('x' * 5_000_000)\n"
    "sys.stderr.write('y' * 5_000_000)\n"
    "def double(x):\n"
    "    print('z' * 1_000_000)\n"
    "    if x % 2:\n"
    "        raise ValueError('e' * 1_000_000)\n"
    "    return ['w' * 1000] * 1000\n"
    "#" + "p" * 190_000 + "\n"
)


def _largest_checkpoint(config) -> tuple[int, int]:
    with sqlite3.connect(config.checkpoint_path) as db:
        largest, total = db.execute(
            "select max(length(checkpoint)), sum(length(checkpoint)) from checkpoints"
        ).fetchone()
    return largest, total


async def test_a_checkpoint_stays_under_a_megabyte_per_attempt(tmp_path: Path) -> None:
    spec = {
        "title": "Double", "kind": "program", "interface": "function",
        "function_name": "double", "description": "double(x) returns 2 * x",
        "tests": [{"name": f"t{i}", "call": f"double({i})", "expected": str(2 * i)}
                  for i in range(50)],
    }  # fmt: skip
    image, config = scripted_task(
        tmp_path, "double",
        {"vision": [spec], "coding": [{"source": HOSTILE}], "checker": [{}]},
        max_iterations=ATTEMPTS,
    )  # fmt: skip
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(image, config, saver)
    state: RunState = result.state
    assert state.status == "failed" and len(state.attempts) == ATTEMPTS
    largest, total = _largest_checkpoint(config)
    per_attempt = largest / ATTEMPTS
    print(f"largest checkpoint {largest / 1e6:.2f} MB = {per_attempt / 1e6:.2f} MB per attempt;"
          f" all checkpoints of the run {total / 1e6:.2f} MB")  # fmt: skip
    assert per_attempt < 1_000_000, per_attempt
