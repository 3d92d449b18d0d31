"""Building the wheel: no setuptools warnings about prompt folders, every prompt inside."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_builds_quietly_with_every_prompt(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         str(ROOT), "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "would be ignored" not in proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("autorust-*.whl")
    inside = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".yaml")}
    expected = {f"autorust/prompts/{p.relative_to(ROOT / 'prompts')}"
                for p in (ROOT / "prompts").glob("*/*.yaml")}  # fmt: skip
    assert expected and expected <= inside
