"""kill -9 a real batch process mid-run, run it again: every item ends exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from autorust.graph.state import RunState
from autorust.runtime.runner import compile_graph
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples

ITEMS = 12


def _start(
    folder: Path, replies: Path, home: Path, out: Path, in_flight: int = 4
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env["AUTORUST_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "autorust.cli.main", "run", str(folder), "--scripted", str(replies),
         "--output", "quiet", "--out", str(out), "--max-in-flight", str(in_flight)],
        env=env, cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _finished(out: Path) -> int:
    return len(list(out.glob("*/result.json")))


async def _threads(home: Path) -> dict[str, tuple[RunState, int]]:
    """Final state and number of executed node steps (loop checkpoints) per thread."""
    found: dict[str, tuple[RunState, int]] = {}
    async with open_checkpointer(home / "checkpoints.sqlite") as saver:
        graph = compile_graph(saver)
        thread_ids = {c.config["configurable"]["thread_id"] async for c in saver.alist(None)}
        for thread_id in thread_ids:
            config = {"configurable": {"thread_id": thread_id}}
            history = [s async for s in graph.aget_state_history(config)]
            steps = sum(s.metadata.get("source") == "loop" for s in history)
            state = RunState.model_validate((await graph.aget_state(config)).values)
            found[Path(state.image_path).name] = (state, steps)
    return found


async def rerun_matches_clean(
    images: list[Path], replies: Path, home: Path, out: Path, after: str, in_flight: int = 4
) -> dict[str, tuple[RunState, int]]:
    """Run the interrupted batch in ``home``/``out`` again, and the same batch clean in
    ``clean/`` beside the images' folder: every image passes with the clean run's model calls
    and node steps (nothing repeated ``after`` the interruption). The rerun's threads."""
    folder = images[0].parent
    clean_home, clean_out = folder.parent / "clean" / ".autorust", folder.parent / "clean" / "out"
    for run_home, run_out in ((home, out), (clean_home, clean_out)):
        batch = _start(folder, replies, run_home, run_out, in_flight)
        stdout, stderr = batch.communicate(timeout=180)
        assert batch.returncode == 0, stdout[-3000:] + stderr[-3000:]
    resumed, uninterrupted = await _threads(home), await _threads(clean_home)
    assert set(resumed) == {p.name for p in images} == set(uninterrupted)
    for name, (state, steps) in resumed.items():
        calls = Counter(call.agent for call in state.model_calls)
        clean_calls = Counter(call.agent for call in uninterrupted[name][0].model_calls)
        assert state.status == "passed", name
        assert calls == clean_calls, f"{name}: model calls were repeated after the {after}"
        assert steps == uninterrupted[name][1], f"{name}: nodes were redone after the {after}"
    return resumed


def _comparable(result_json: Path) -> dict:
    data = json.loads(result_json.read_text())
    for volatile in ("duration_s", "resumed", "skipped", "image_path"):
        data.pop(volatile, None)
    return data


async def test_kill_9_then_rerun_finishes_every_item_exactly_once(tmp_path: Path) -> None:
    replies = tmp_path / "replies"
    images = copy_examples(tmp_path / "images", ITEMS, replies=replies)
    (replies / "_delays.yaml").write_text(
        yaml.safe_dump({"vision": 0.2, "coding": 0.3, "checker": 0.1})
    )

    crashed_home, crashed_out = tmp_path / "crashed" / ".autorust", tmp_path / "crashed" / "out"
    proc = _start(tmp_path / "images", replies, crashed_home, crashed_out)
    deadline = time.monotonic() + 60
    while _finished(crashed_out) < 3:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before_kill = _finished(crashed_out)
    assert done_before_kill < ITEMS, "the kill came too late to interrupt anything"

    crashed = await rerun_matches_clean(images, replies, crashed_home, crashed_out, "crash")
    for name, (state, _) in crashed.items():
        calls = Counter(call.agent for call in state.model_calls)
        assert calls["coding"] == calls["checker"] == len(state.attempts), name

    summary = json.loads((crashed_out / "latest" / "summary.json").read_text())
    assert summary["total"] == ITEMS and summary["counts"] == {"passed": ITEMS}
    assert sum(item["skipped"] for item in summary["items"]) >= done_before_kill
    for folder in (tmp_path / "clean" / "out").glob("*/result.json"):
        twin = crashed_out / folder.parent.name / "result.json"
        assert _comparable(twin) == _comparable(folder)
        assert (twin.parent / "solution.py").read_text() == (
            folder.parent / "solution.py"
        ).read_text()
