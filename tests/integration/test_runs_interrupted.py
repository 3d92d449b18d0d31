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
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.conftest import ROOT
from tests.support.bad_images import copy_examples
from tests.support.postgres_server import postgres_cluster


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


def _kill_mid_run_then_list(tmp_path: Path, db: list[str], started: Callable[[], bool]) -> None:
    """Two images whose coding call takes 30 s: listed running while the batch lives, then
    interrupted once it is killed (a real kill -9, the real ``runs list`` in a new process)."""
    replies, home = tmp_path / "replies", tmp_path / ".autorust"
    copy_examples(tmp_path / "images", 2, replies=replies)
    (replies / "_delays.yaml").write_text(yaml.safe_dump({"vision": 0.2, "coding": 30.0}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "autorust", "run", str(tmp_path / "images"), "--scripted",
         str(replies), "--output", "quiet", "--out", str(tmp_path / "out"), *db],
        env=_env(home), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not started():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        time.sleep(1.5)  # vision done: each thread has checkpoints, coding (30 s) in flight
        live = [json.loads(line) for line in _list(home, "--jsonl", *db).stdout.splitlines()]
        assert [row["status"] for row in live] == ["running", "running"], live
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    rows = [json.loads(line) for line in _list(home, "--jsonl", *db).stdout.splitlines()]
    assert [row["status"] for row in rows] == ["interrupted", "interrupted"], rows
    table = _list(home, *db).stdout
    assert table.count("interrupted") == 2 and "running" not in table
    only = _list(home, "--status", "interrupted", "--jsonl", *db)
    assert only.returncode == 0 and len(only.stdout.splitlines()) == 2


@pytest.mark.bwrap
def test_a_killed_run_lists_as_interrupted(tmp_path: Path) -> None:
    db = tmp_path / ".autorust" / "checkpoints.sqlite"
    _kill_mid_run_then_list(tmp_path, [], lambda: _threads_started(db) >= 2)


@pytest.mark.postgres
@pytest.mark.bwrap
def test_a_killed_run_lists_as_interrupted_on_postgresql(tmp_path: Path) -> None:
    """PostgreSQL: the killed process's session advisory locks go with its connection."""
    with postgres_cluster() as url:

        def started() -> bool:
            with psycopg.connect(url) as conn:
                return bool(conn.execute(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
                ).fetchone()[0] >= 2)  # fmt: skip

        _kill_mid_run_then_list(tmp_path, ["--db", url], started)
