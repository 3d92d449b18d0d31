"""An interpreter path through ``..`` or a symlinked folder starts the sandbox (issue 26 #6:
such a path made the probe fail, blaming file permissions)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from autorust.sandbox.base import Job, resolve_interpreter
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

pytestmark = pytest.mark.bwrap


def test_resolve_keeps_the_venv_link_and_resolves_its_folders(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    dotted = f"{bin_dir}/../{bin_dir.name}/{Path(sys.executable).name}"
    assert resolve_interpreter(dotted) == os.path.join(
        os.path.realpath(bin_dir), Path(sys.executable).name
    )
    link = tmp_path / "linked-bin"
    link.symlink_to(bin_dir)
    assert resolve_interpreter(str(link / "python")) == os.path.join(
        os.path.realpath(bin_dir), "python"
    )  # the folder is resolved, the venv's own `python` link is kept


@pytest.mark.parametrize("shape", ["dotdot", "symlinked-folder"])
async def test_an_interpreter_path_with_dotdot_runs_jobs(tmp_path: Path, shape: str) -> None:
    bin_dir = Path(sys.executable).parent
    if shape == "dotdot":
        python = f"{bin_dir}/../{bin_dir.name}/./{Path(sys.executable).name}"
    else:
        link = tmp_path / "bin-link"
        link.symlink_to(bin_dir)
        python = f"{link}/../bin-link/{Path(sys.executable).name}"
    executor = BubblewrapExecutor(warm_pool_size=1, python=python)
    try:
        await executor.check()  # raised "must be readable by an unprivileged user" before
        result = await executor.execute(
            Job(files={"main.py": "import sys; print(sys.prefix == sys.base_prefix)"})
        )
    finally:
        await executor.aclose()
    assert result.sandbox_error is None and result.exit_code == 0, result
    # still the venv (its site-packages), not the base interpreter the venv's link points to
    assert result.stdout.strip() == str(sys.prefix == sys.base_prefix)
