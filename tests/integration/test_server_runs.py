"""`autorust run --server URL`: a batch on a LangGraph server (here `langgraph dev`).

Observed on 3f763c6: the server had to read the images from the client's paths (shared disk).
Now the image's bytes go to the server's store and the run's input names them; the result
folders written locally are the same as a local run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.runtime.batch import BatchOptions
from autorust.runtime.remote import run_on_server
from tests.support.bad_images import copy_examples
from tests.support.fake_openai import CodingOutage, FakeOpenAI
from tests.support.langgraph_server import langgraph_dev

pytestmark = pytest.mark.langgraph_dev

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
VOLATILE = ("duration_s", "thread_id", "skipped", "resumed", "image_path")


def run_cli(folder: Path, replies: Path, out: Path, home: Path, *extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env["AUTORUST_HOME"] = str(home)  # travels in the run's context to the server
    return subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "run", str(folder), "--scripted", str(replies),
         "--output", "quiet", "--out", str(out), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def folder_files(out: Path) -> dict[str, bytes]:
    """Every file of every result folder, keyed by its path (result.json without volatiles)."""
    files = {}
    for path in sorted(out.glob("*-*/**/*")):
        if not path.is_file() or path.name == "log.jsonl":
            continue
        key = str(path.relative_to(out))
        # folder names hold the thread id (a UUID on the server): key by the image stem
        key = key.split("-", 1)[0] + "/" + key.split("/", 1)[1]
        data = path.read_bytes()
        if path.suffix == ".json":
            data = json.dumps(_stable(json.loads(data))).encode()
        files[key] = data
    return files


def _stable(value: object) -> object:
    """Without timings and host paths (artifacts live in each host's own home)."""
    if isinstance(value, dict):
        return {
            k: sorted(v) if k == "artifacts" else _stable(v)
            for k, v in value.items()
            if k not in VOLATILE
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_batch_through_langgraph_dev_sends_the_images(tmp_path: Path) -> None:
    folder, replies = tmp_path / "images", tmp_path / "replies"
    images = copy_examples(folder, 4, replies=replies)
    (folder / "palindrome_copy.png").write_bytes(images[0].read_bytes())  # same bytes: run once
    server_home = tmp_path / "server-home"
    with langgraph_dev(tmp_path / "server.log") as server:
        first = run_cli(
            folder, replies, tmp_path / "out", server_home, "--server", server, "--output", "jsonl"
        )
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        summary = json.loads((tmp_path / "out" / "latest" / "summary.json").read_text())
        assert summary["counts"] == {"passed": 5}
        # live progress from the server's stream, as for a local batch (none before)
        events = [json.loads(line) for line in first.stdout.splitlines() if line.startswith("{")]
        finished = [event for event in events if event["event"] == "item_finished"]
        assert len(finished) == 5
        steps = finished[-1]["agents"]
        assert all(steps[agent]["done"] >= 4 for agent in ("vision", "coding", "checker"))
        assert steps["interpreter"]["done"] >= 4
        listed = subprocess.run(
            [sys.executable, "-m", "autorust.cli.main", "runs", "list", "--server", server,
             "--jsonl"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr[-2000:]
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert sorted(Path(row["image_path"]).name for row in rows) == sorted(
            p.name for p in images
        )
        assert {row["status"] for row in rows} == {"passed"}
        assert not any(item["skipped"] for item in summary["items"])
        threads = httpx.post(f"{server}/threads/search", json={"limit": 50}, timeout=10).json()
        assert len(threads) == 4, "one server thread per distinct image"
        for thread in threads:
            history = httpx.post(
                f"{server}/threads/{thread['thread_id']}/history", json={"limit": 100}, timeout=10
            ).json()
            text = json.dumps(history)
            assert str(folder) not in text, "the server never saw the client's paths"
            assert "iVBORw0KGgo" not in text, "no base64 image in any checkpoint"
            final = history[0]["values"]
            assert final["image_path"].startswith(str(server_home / "inputs"))

        again = run_cli(folder, replies, tmp_path / "out", server_home, "--server", server)
        assert again.returncode == 0, again.stderr[-2000:]
        summary = json.loads((tmp_path / "out" / "latest" / "summary.json").read_text())
        assert all(item["skipped"] for item in summary["items"])
    palindrome = next((tmp_path / "out").glob("palindrome__001-*"))
    assert (palindrome / "attempts" / "02" / "verdict.json").is_file()
    assert "isalnum" in (palindrome / "solution.py").read_text()
    assert {Path(i["image"]).name for i in summary["items"]} == {p.name for p in images} | {
        "palindrome_copy.png"
    }

    local = run_cli(folder, replies, tmp_path / "local-out", tmp_path / "local-home")
    assert local.returncode == 0, local.stdout[-2000:] + local.stderr[-2000:]
    remote_files, local_files = folder_files(tmp_path / "out"), folder_files(tmp_path / "local-out")
    assert remote_files.keys() == local_files.keys()
    assert remote_files == local_files, "results from the server equal a local run's"


async def test_an_error_item_continues_on_the_server_from_its_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    """Observed on 2ab6603: a plain rerun of a ``--server`` item that ended ``error`` deleted its
    thread and paid for every step again; a local batch continues from the last good
    checkpoint. Both now take the same decision (runtime/item_runner.py)."""
    responder = CodingOutage(REPLIES)
    asked = responder.asked

    (image,) = copy_examples(tmp_path / "images", 1)
    with FakeOpenAI(responder) as model, langgraph_dev(tmp_path / "server.log") as server:
        config = AutorustConfig(
            default={"model": "m", "base_url": model.base_url, "max_retries": 0},
            home=str(tmp_path / "server-home"),
        )

        async def batch() -> Any:
            (result,) = await run_on_server(
                server, [image], config, BatchOptions(), tmp_path / "out"
            )
            return result

        first = await batch()
        assert first.status == "error" and asked.count("Spec") == 1
        failed_calls = first.state.model_calls
        responder.on = False
        asked.clear()
        second = await batch()
        threads = httpx.post(f"{server}/threads/search", json={"limit": 50}, timeout=10).json()
    assert second.status == "passed" and second.resumed
    assert [t["thread_id"] for t in threads] == [first.thread_id], "the same thread, kept"
    assert "Spec" not in asked and asked.count("CodeArtifact") == 1
    state = second.state
    assert state is not None and [c.agent for c in state.model_calls].count("vision") == 1
    # the failed coding call's usage is still in the item's ledger
    assert all(call in state.model_calls for call in failed_calls)
    assert sum(c.input_tokens for c in state.model_calls) == model.usage["prompt_tokens"]
    (folder,) = (tmp_path / "out").glob("*-*")
    assert json.loads((folder / "result.json").read_text())["status"] == "passed"
