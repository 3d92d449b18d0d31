"""The command line with a model endpoint that misbehaves: ``--output jsonl`` stays pure JSON,
and a plain rerun retries the items that ended in an endpoint error (only those)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from autorust.graph.context import AutorustConfig
from autorust.runtime.batch import BatchOptions, BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.fake_openai import (
    CodingOutage,
    FakeOpenAI,
    Fault,
    Reply,
    replies_by_schema,
    schema_name,
)

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
KEY = "sk-test-cli-0123456789"


def test_jsonl_stdout_carries_json_lines_only(tmp_path: Path) -> None:
    """Observed on 3f763c6: 27 log lines (warnings, errors) among the JSON events on stdout."""
    script = replies_by_schema(REPLIES)
    coding_tries: list[int] = []

    def noisy(request: dict[str, Any]) -> Reply:
        if schema_name(request) == "CodeArtifact":
            coding_tries.append(1)
            if len(coding_tries) == 1:
                return Fault(503, headers={"retry-after": "0"})  # a retry warning
            if len(coding_tries) == 2:
                return "{not json"  # a regeneration warning
        return script(request)

    images = copy_examples(tmp_path / "images", 4)
    (tmp_path / "images" / "notes.txt").write_text("not an image")  # an item error
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    with FakeOpenAI(noisy) as server:
        env |= {
            "AUTORUST_DEFAULT__BASE_URL": server.base_url,
            "AUTORUST_DEFAULT__MODEL": "m",
            "OPENAI_API_KEY": KEY,
            "COLUMNS": "200",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "autorust.cli.main", "run", str(tmp_path / "images"),
             "--out", str(tmp_path / "out"), "--output", "jsonl", "-n", "1"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    lines = proc.stdout.splitlines()
    events = [json.loads(line) for line in lines]  # every line is JSON, or this raises
    finished = [e for e in events if e["event"] == "item_finished"]
    assert len(finished) == len(images) + 1
    assert any(e["status"] == "error" for e in finished)
    assert "retry 1" in proc.stderr and "regenerating" in proc.stderr  # the logs went here
    assert KEY not in proc.stdout + proc.stderr
    log_file = tmp_path / "out" / "autorust.log.jsonl"
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any("retry 1" in r["message"] for r in records)


async def test_a_plain_rerun_retries_error_items_only(tmp_path: Path) -> None:
    """Observed on 3f763c6: items that ended `error` because of the endpoint were skipped by a
    plain rerun; only --force retried them, rerunning everything."""
    script = replies_by_schema(REPLIES)
    outage = {"on": True}
    images = copy_examples(tmp_path / "images", 3)
    broken_image = images[1]
    # the prompt has no file name (a name is no evidence): the image's bytes identify it
    broken_marker = base64.b64encode(broken_image.read_bytes())[100:300].decode()
    asked: list[str] = []

    def responder(request: dict[str, Any]) -> Reply:
        text = json.dumps(request["messages"])
        asked.append(f"{schema_name(request)} {text if schema_name(request) == 'Spec' else ''}")
        if outage["on"] and schema_name(request) == "Spec" and broken_marker in text:
            return Fault(503)
        return script(request)

    with FakeOpenAI(responder) as server:
        config = AutorustConfig(
            default={"model": "m", "base_url": server.base_url, "max_retries": 0},
            home=str(tmp_path / ".autorust"),
        )

        async def batch(force: bool = False) -> dict[str, Any]:
            async with open_checkpointer(config.checkpoint_path) as saver:
                results = await BatchRun(images, config, saver, BatchOptions(force=force)).run()
            return {Path(r.image_path).name: r for r in results}

        first = await batch()
        assert first[broken_image.name].status == "error"
        assert [r.status for n, r in first.items() if n != broken_image.name] == ["passed"] * 2

        outage["on"] = False
        asked.clear()
        second = await batch()
        assert second[broken_image.name].status == "passed"
        assert not second[broken_image.name].skipped
        assert all(r.skipped for n, r in second.items() if n != broken_image.name)
        specs = [text for text in asked if text.startswith("Spec")]
        assert len(specs) == 1 and broken_marker in specs[0]  # only that item ran again

        asked.clear()
        third = await batch()
        assert all(r.skipped for r in third.values()) and asked == []

        forced = await batch(force=True)
        assert not any(r.skipped for r in forced.values())
    assert (first[broken_image.name].error or "").startswith(
        f"vision agent (model m at {server.host}): the endpoint kept failing (HTTP 503)"
    )


async def test_a_rerun_retries_the_failed_step_without_redoing_finished_ones(
    tmp_path: Path,
) -> None:
    """An endpoint failure in coding must not cost the vision call again on the rerun."""
    responder = CodingOutage(REPLIES)
    asked = responder.asked

    (image,) = copy_examples(tmp_path / "images", 1)
    with FakeOpenAI(responder) as server:
        config = AutorustConfig(
            default={"model": "m", "base_url": server.base_url, "max_retries": 0},
            home=str(tmp_path / ".autorust"),
        )
        async with open_checkpointer(config.checkpoint_path) as saver:
            (first,) = await BatchRun([image], config, saver, BatchOptions()).run()
            assert first.status == "error" and asked.count("Spec") == 1
            failed_calls = first.state.model_calls
            responder.on = False
            asked.clear()
            (second,) = await BatchRun([image], config, saver, BatchOptions()).run()
    assert second.status == "passed" and second.resumed
    assert "Spec" not in asked and asked.count("CodeArtifact") == 1
    state = second.state
    assert state is not None and [c.agent for c in state.model_calls].count("vision") == 1
    # the failed coding call's usage is still in the item's ledger
    assert all(call in state.model_calls for call in failed_calls)
    assert sum(c.input_tokens for c in state.model_calls) == server.usage["prompt_tokens"]
