"""A run whose process was killed mid-run lists as ``interrupted``, not ``running`` (issue 24
item 9): a real batch process, a real ``kill -9``, the real ``runs list`` in a fresh process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.support.bad_images import copy_examples


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    return env | {"AUTORUST_HOME": str(home), "COLUMNS": "120"}


def _list(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autorust", "runs", "list", *args],
                          env=_env(home), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def _threads_started(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM autorust_live").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.bwrap
def test_a_killed_run_lists_as_interrupted(tmp_path: Path) -> None:
    replies, home = tmp_path / "replies", tmp_path / ".autorust"
    copy_examples(tmp_path / "images", 2, replies=replies)
    (replies / "_delays.yaml").write_text(yaml.safe_dump({"vision": 0.2, "coding": 30.0}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "autorust", "run", str(tmp_path / "images"), "--scripted",
         str(replies), "--output", "quiet", "--out", str(tmp_path / "out")],
        env=_env(home), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _threads_started(home / "checkpoints.sqlite") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(1.5)  # vision done: each thread has checkpoints, coding (30 s) in flight
        live = [json.loads(line) for line in _list(home, "--jsonl").stdout.splitlines()]
        assert [row["status"] for row in live] == ["running", "running"], live
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    rows = [json.loads(line) for line in _list(home, "--jsonl").stdout.splitlines()]
    assert [row["status"] for row in rows] == ["interrupted", "interrupted"], rows
    table = _list(home).stdout
    assert table.count("interrupted") == 2 and "running" not in table
    only = _list(home, "--status", "interrupted", "--jsonl")
    assert only.returncode == 0 and len(only.stdout.splitlines()) == 2
