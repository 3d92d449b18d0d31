"""``autorust runs prune``: old runs go with every row they left (checkpoints, writes, run
index, claims, journaled replies); newer runs still list, show and resume. On SQLite and
PostgreSQL, plain and encrypted."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import psycopg
import pytest
from typer.testing import CliRunner

from autorust.cli.main import app
from autorust.graph.state import RunStatus
from tests.support.bad_images import copy_examples
from tests.support.postgres_server import postgres_cluster

KEY = "prune test key 91c2"
WIDE = {"COLUMNS": "250"}
# copies of the examples by index (copy_examples): 0 leap_year, 1 palindrome,
# 2 reverse_words, 4 sum_even
OLD_FAILED, OLD_PAUSED, NEW_PASSED, NEW_PAUSED = 1, 0, 2, 4


def invoke(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


class Scenario:
    """Two old runs (one failed, one paused at an approval with journaled replies), then a
    gap, then two new runs (one passed, one paused)."""

    def __init__(self, tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp, self.store, self.mp = tmp_path, store, monkeypatch
        self.replies = tmp_path / "replies"
        self.images = copy_examples(tmp_path / "all", 5, replies=self.replies)

    def run(self, index: int, *extra: str, paused: bool = False) -> None:
        folder = self.tmp / f"in{index}"
        folder.mkdir(exist_ok=True)
        shutil.copy(self.images[index], folder)  # (again: a rerun)
        if paused:
            self.mp.setenv("AUTORUST_APPROVE_EXECUTION", "true")
        else:
            self.mp.delenv("AUTORUST_APPROVE_EXECUTION", raising=False)
        output = invoke("run", str(folder), "--scripted", str(self.replies), "--checkpoint",
                        self.store, "--out", str(self.tmp / "out"), "--output", "quiet",
                        *extra, ok=False)  # fmt: skip
        self.mp.delenv("AUTORUST_APPROVE_EXECUTION", raising=False)
        assert "error" not in output.lower(), output

    def rows(self) -> dict[str, dict]:
        """image stem -> run row."""
        listed = invoke("runs", "list", "--db", self.store, "--jsonl", "--limit", "0")
        rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
        return {Path(row["image_path"]).stem.split("__")[1]: row for row in rows}

    def build(self) -> tuple[dict[str, dict], str]:
        """Runs the four; returns the rows and an --older-than between the two groups."""
        self.run(OLD_FAILED, "-n", "1")
        self.run(OLD_PAUSED, paused=True)
        time.sleep(4.5)
        self.run(NEW_PASSED)
        self.run(NEW_PAUSED, paused=True)
        rows = self.rows()
        assert {key: (row["status"], row["awaiting"]) for key, row in rows.items()} == {
            "001": ("failed", False),
            "000": ("running", True),
            "002": ("passed", False),
            "004": ("running", True),
        }
        updated = {key: datetime.fromisoformat(row["updated"]) for key, row in rows.items()}
        newest_old = max(updated["000"], updated["001"])
        assert min(updated["002"], updated["004"]) - newest_old > _seconds(4)
        # whole seconds, so that the cutoff the command computes a moment later still falls
        # after the old runs and (the gap being > 4 s) before the new ones
        age = math.floor((datetime.now(UTC) - newest_old).total_seconds() - 0.01)
        return rows, f"{age}s"


def _seconds(n: float):
    from datetime import timedelta

    return timedelta(seconds=n)


def _check_prune(scenario: Scenario, count_rows) -> None:
    rows, age = scenario.build()
    store = scenario.store
    old_paused = rows["000"]["thread_id"]
    assert count_rows("autorust_replies", old_paused) > 0  # the journal holds its replies

    dry = invoke("runs", "prune", "--older-than", age, "--db", store, "--dry-run", "--jsonl")
    assert {json.loads(line)["thread_id"] for line in dry.splitlines()} == {
        rows["000"]["thread_id"],
        rows["001"]["thread_id"],
    }
    assert set(scenario.rows()) == {"000", "001", "002", "004"}  # a dry run deletes nothing

    gone = invoke("runs", "prune", "--older-than", age, "--status", "failed", "--db", store)
    assert "deleted 1 runs" in gone, gone
    assert set(scenario.rows()) == {"000", "002", "004"}

    gone = invoke("runs", "prune", "--older-than", age, "--status", "passed,running",
                  "--db", store)  # fmt: skip
    assert "deleted 1 runs" in gone, gone
    assert set(scenario.rows()) == {"002", "004"}
    for key in ("000", "001"):
        thread = rows[key]["thread_id"]
        for table in ("checkpoints", "writes", "autorust_replies", "index"):
            assert count_rows(table, thread) == 0, (table, key)
        missing = CliRunner().invoke(app, ["runs", "show", thread, "--db", store], env=WIDE)
        assert missing.exit_code == 2 and "no run" in missing.output.lower(), missing.output

    # the newer runs are untouched: they list, show and resume
    for key in ("002", "004"):
        assert count_rows("checkpoints", rows[key]["thread_id"]) > 0
        shown = invoke("runs", "show", rows[key]["thread_id"], "--db", store)
        assert "vision" in shown and "coding" in shown
    resumed = invoke("runs", "resume", rows["004"]["thread_id"], "--approve", "--db", store,
                     "--out", str(scenario.tmp / "out"))  # fmt: skip
    assert "passed" in resumed
    assert scenario.rows()["004"]["status"] == "passed"

    # an image whose run was pruned runs again from the start (no index row or claim skips it)
    scenario.run(OLD_FAILED, "-n", "1")
    assert scenario.rows()["001"]["status"] == "failed"


def _sqlite_counter(db: Path):
    def count(table: str, thread: str) -> int:
        sql = {
            "index": "SELECT COUNT(*) FROM autorust_runs WHERE thread_id = ?",
            "writes": "SELECT COUNT(*) FROM writes WHERE thread_id = ?",
        }.get(table, f"SELECT COUNT(*) FROM {table} WHERE thread_id = ?")
        with sqlite3.connect(db) as conn:
            return conn.execute(sql, (thread,)).fetchone()[0]

    return count


@pytest.mark.bwrap
@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
def test_prune_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTORUST_OCR", "off")
    if key:
        monkeypatch.setenv("AUTORUST_CHECKPOINT_KEY", key)
    db = tmp_path / ".autorust" / "checkpoints.sqlite"
    _check_prune(Scenario(tmp_path, str(db), monkeypatch), _sqlite_counter(db))
    if key:  # without the key the store is not opened, so nothing can be pruned
        monkeypatch.delenv("AUTORUST_CHECKPOINT_KEY")
        refused = CliRunner().invoke(
            app, ["runs", "prune", "--older-than", "1s", "--db", str(db)], env=WIDE
        )
        assert refused.exit_code == 2 and "is encrypted" in refused.output, refused.output
        assert KEY not in refused.output


@pytest.mark.postgres
@pytest.mark.bwrap
@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
def test_prune_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTORUST_OCR", "off")
    if key:
        monkeypatch.setenv("AUTORUST_CHECKPOINT_KEY", key)
    with postgres_cluster() as url:

        def count(table: str, thread: str) -> int:
            sql = {
                "index": "SELECT COUNT(*) FROM autorust_claims WHERE item = %s",
                "writes": "SELECT COUNT(*) FROM checkpoint_writes WHERE thread_id = %s",
            }.get(table, f"SELECT COUNT(*) FROM {table} WHERE thread_id = %s")
            with psycopg.connect(url) as conn:
                return conn.execute(sql, (thread,)).fetchone()[0]

        scenario = Scenario(tmp_path, url, monkeypatch)
        _check_prune(scenario, count)
        with psycopg.connect(url) as conn:  # the claims of the runs that remain are kept
            kept = {row[0] for row in conn.execute("SELECT item FROM autorust_claims")}
        assert kept == {row["thread_id"] for row in scenario.rows().values()}
        blobs = "SELECT COUNT(*) FROM checkpoint_blobs WHERE thread_id = ANY(%s)"
        with psycopg.connect(url) as conn:
            survivors = [row["thread_id"] for row in scenario.rows().values()]
            assert conn.execute(blobs, (survivors,)).fetchone()[0] > 0
            assert conn.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoint_blobs"
                                ).fetchone()[0] == len(survivors)  # fmt: skip


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("30", "'30' is not an age like 30d"),
        ("30x", "'30x' is not an age like 30d"),
        ("-1d", "'-1d' is not an age like 30d"),
        ("0d", "'0d' is no age: give more than 0"),
        ("", "'' is not an age like 30d"),
        ("99999999999w", "too long ago"),
    ],
)
def test_bad_durations_are_one_line(tmp_path: Path, given: str, problem: str) -> None:
    db = tmp_path / "c.sqlite"
    sqlite3.connect(db).close()
    result = CliRunner().invoke(
        app, ["runs", "prune", "--older-than", given, "--db", str(db)], env=WIDE
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --older-than: "), result.output
    assert problem in lines[0], lines[0]


def test_bad_status_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["runs", "prune", "--older-than", "30d", "--status", "passed,done"], env=WIDE
    )
    assert result.exit_code == 2
    allowed = ", ".join(get_args(RunStatus))
    assert result.output.strip() == f"error: --status 'done' is not a status: allowed {allowed}"


def test_parse_age() -> None:
    from datetime import timedelta

    from autorust.storage.retention import parse_age

    assert parse_age("30d") == timedelta(days=30)
    assert parse_age("1d12h") == timedelta(hours=36)
    assert parse_age(" 2W ") == timedelta(weeks=2)
    assert parse_age("90m") == timedelta(minutes=90)
    assert parse_age("45s") == timedelta(seconds=45)
