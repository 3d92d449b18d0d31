"""The test commands README's "Fast tests" line gives are accepted by pytest as written (one
said `-p no:nbmake`, which pyproject's `--nbmake` option then made a usage error)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from tests.conftest import ROOT


def test_the_readmes_fast_test_commands_collect() -> None:
    line = next(p for p in (ROOT / "README.md").read_text().split("\n\n") if "**Fast tests**" in p)
    commands = re.findall(r"`(\.venv/bin/pytest[^`]*)`", line)
    assert len(commands) >= 2, line
    for command in commands:
        args = [*shlex.split(command)[1:], "--collect-only", "-q", "-p", "no:cacheprovider"]
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}: {done.stdout[-500:]}{done.stderr[-500:]}"
        assert " collected" in done.stdout or "tests collected" in done.stdout, done.stdout[-300:]
