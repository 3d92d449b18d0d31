"""`autorust run --server URL`: a batch on a LangGraph server (here `langgraph dev`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.bad_images import copy_examples
from tests.support.langgraph_server import langgraph_dev

pytestmark = pytest.mark.langgraph_dev

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    folder: Path, replies: Path, server: str, tmp_path: Path
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env["AUTORUST_HOME"] = str(tmp_path / "server-home")  # travels in the run's context
    return subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "run", str(folder), "--scripted", str(replies),
         "--server", server, "--output", "quiet", "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_batch_through_langgraph_dev(tmp_path: Path) -> None:
    folder, replies = tmp_path / "images", tmp_path / "replies"
    images = copy_examples(folder, 4, replies=replies)
    with langgraph_dev(tmp_path / "server.log") as server:
        first = run_cli(folder, replies, server, tmp_path)
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["counts"] == {"passed": 4}
        assert not any(item["skipped"] for item in summary["items"])
        threads = httpx.post(f"{server}/threads/search", json={"limit": 50}, timeout=10).json()
        assert len(threads) == 4  # one server thread per image

        again = run_cli(folder, replies, server, tmp_path)  # finished threads are not rerun
        assert again.returncode == 0, again.stderr[-2000:]
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert all(item["skipped"] for item in summary["items"])
    palindrome = next((tmp_path / "out").glob("palindrome__001-*"))
    assert (palindrome / "attempts" / "02" / "verdict.json").is_file()
    assert "isalnum" in (palindrome / "solution.py").read_text()
    assert {Path(i["image"]).name for i in summary["items"]} == {p.name for p in images}
