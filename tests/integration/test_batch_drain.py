"""SIGTERM a real batch process: it drains (steps in flight finish and checkpoint), writes the
summary, exits 75 with one line saying how to continue; the rerun finishes the rest with no
model call repeated. A second signal stops at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

from autorust.runtime.drain import DRAINED_EXIT_CODE, STOPPED_EXIT_CODE
from autorust.runtime.runner import compile_graph
from autorust.storage.checkpoints import open_checkpointer
from tests.integration.test_batch_crash import (
    _comparable,
    _finished,
    _start,
    _threads,
    rerun_matches_clean,
)
from tests.support.bad_images import copy_examples

ITEMS = 10


def _wait_for(out: Path, proc: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 90
    while _finished(out) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)


def _scripted(tmp_path: Path) -> tuple[Path, list[Path]]:
    replies = tmp_path / "replies"
    images = copy_examples(tmp_path / "images", ITEMS, replies=replies)
    (replies / "_delays.yaml").write_text(
        yaml.safe_dump({"vision": 0.3, "coding": 0.5, "checker": 0.2})
    )
    return replies, images


def _journal_rows(home: Path) -> set[tuple[str, str]]:
    """(thread, step namespace) of every journaled model reply."""
    import sqlite3

    conn = sqlite3.connect(home / "checkpoints.sqlite")
    try:
        return set(conn.execute("SELECT thread_id, task FROM autorust_replies").fetchall())
    finally:
        conn.close()


async def _pending_steps(home: Path) -> set[tuple[str, str]]:
    """(thread, step namespace) of the steps each thread's latest checkpoint still has to run,
    and whether any of them already holds writes (a half-done step)."""
    pending: set[tuple[str, str]] = set()
    async with open_checkpointer(home / "checkpoints.sqlite") as saver:
        graph = compile_graph(saver)
        threads = {c.config["configurable"]["thread_id"] async for c in saver.alist(None)}
        for thread in threads:
            snapshot = await graph.aget_state({"configurable": {"thread_id": thread}})
            pending |= {(thread, f"{task.name}:{task.id}") for task in snapshot.tasks}
    return pending


async def test_sigterm_drains_then_rerun_finishes_with_no_call_repeated(tmp_path: Path) -> None:
    replies, images = _scripted(tmp_path)
    home, out = tmp_path / "drained" / ".autorust", tmp_path / "drained" / "out"
    proc = _start(tmp_path / "images", replies, home, out, in_flight=3)
    _wait_for(out, proc, 2)
    os.kill(proc.pid, signal.SIGTERM)  # one real signal, to the CLI process only
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == DRAINED_EXIT_CODE, stdout[-3000:] + stderr[-3000:]
    text = stdout + stderr
    assert "SIGTERM: draining" in text
    lines = [line for line in text.splitlines() if line.startswith("drained:")]
    assert len(lines) == 1 and "run the same command again to continue" in lines[0], text

    finished = _finished(out)
    assert 2 <= finished < ITEMS, "the drain came too late to interrupt anything"
    summary = json.loads((out / "latest" / "summary.json").read_text())
    assert summary["total"] == finished
    stopped = [entry["image"] for entry in summary["not_processed"]]
    assert len(stopped) == ITEMS - finished and all("SIGTERM" in e["reason"]
                                                    for e in summary["not_processed"])  # fmt: skip

    # Nothing in flight was lost: every model reply journaled belongs to a step that finished
    # and was checkpointed, none to a step still to run (after a kill -9, the step in flight
    # leaves its replies there, for the rerun to take from the journal).
    pending = await _pending_steps(home)
    assert pending, "no unfinished step: the drain came too late"
    assert not (_journal_rows(home) & pending), "a step in flight was cut short"
    drained = await _threads(home)
    assert drained, "no thread was checkpointed"
    partial = {name: state for name, (state, _) in drained.items() if state.status == "running"}
    assert partial, "the drain did not catch any image mid-way"

    await rerun_matches_clean(images, replies, home, out, "drain", in_flight=3)
    summary = json.loads((out / "latest" / "summary.json").read_text())
    assert summary["total"] == ITEMS and summary["counts"] == {"passed": ITEMS}
    assert sum(item["resumed"] for item in summary["items"]) >= len(partial)
    assert _journal_rows(home) == set(), "finished threads keep no journaled replies"
    for folder in (tmp_path / "clean" / "out").glob("*/result.json"):
        assert _comparable(out / folder.parent.name / "result.json") == _comparable(folder)


def test_second_signal_stops_at_once(tmp_path: Path) -> None:
    replies, _ = _scripted(tmp_path)
    (replies / "_delays.yaml").write_text(yaml.safe_dump({"vision": 0.3, "coding": 20.0}))
    home, out = tmp_path / ".autorust", tmp_path / "out"
    proc = _start(tmp_path / "images", replies, home, out, in_flight=3)
    deadline = time.monotonic() + 60
    while not (home / "checkpoints.sqlite").exists() or not list(home.glob("*")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(2.0)  # vision done for some images; coding calls (20 s each) in flight
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None, "the first signal must drain, not stop"
    began = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - began < 10, "the second signal did not stop at once"
    assert proc.returncode == STOPPED_EXIT_CODE, stdout[-3000:] + stderr[-3000:]
    assert "run the same command again to resume" in stdout + stderr
