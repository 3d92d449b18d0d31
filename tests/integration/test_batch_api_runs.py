"""``--batch-api`` end to end (issue 28): the demo images through the Batch API emulator give
the verdicts of a live run, every call is one batch line submitted once, the ledger costs half
of live, and a run killed (SIGKILL) with a batch in flight resumes it without resubmitting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.reporting.usage import load_prices, summarize_usage
from autorust.runtime.batch import BatchRun
from autorust.runtime.batch_api_session import batch_api_session
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.batch_api_emulator import BatchApiEmulator
from tests.support.fake_openai import FakeOpenAI, replies_by_schema
from tests.support.openai_usage import OpenAIUsage
from tests.support.runs import calls_of

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())


def config_for(base_url: str, home: Path) -> AutorustConfig:
    return AutorustConfig(
        default={"model": "gpt-4o-mini", "base_url": base_url},
        home=str(home), output_dir=str(home / "out"), ocr="off",
    )  # fmt: skip


async def run_folder(base_url: str, images: list[Path], home: Path, batch_api: bool = False):
    config = config_for(base_url, home)
    async with open_checkpointer(config.checkpoint_path) as saver:
        if not batch_api:
            return await BatchRun(images, config, saver).run(), None
        with batch_api_session(config.checkpoint_path, gather_s=0.3, poll_s=0.05) as c:
            results = await BatchRun(images, config, saver, batch_api=c).run()
            cost = summarize_usage(calls_of(results), load_prices(batch=True)).total.cost_usd
            return results, (c, cost)


@pytest.mark.bwrap
async def test_the_demo_images_through_the_batch_api_match_live_at_half_the_cost(
    tmp_path: Path,
) -> None:
    images = copy_examples(tmp_path / "images", 4)
    with FakeOpenAI(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as live:
        live_results, _ = await run_folder(live.base_url, images, tmp_path / "live")
        live_calls = len(live.requests)
    live_cost = summarize_usage(calls_of(live_results)).total.cost_usd
    with BatchApiEmulator(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as emu:
        results, (collector, batch_cost) = await run_folder(
            emu.base_url, images, tmp_path / "batch", batch_api=True
        )
    assert [r.status for r in results] == [r.status for r in live_results]
    assert {r.status for r in results} == {"passed"}
    assert len(emu.submissions) == live_calls and set(emu.submissions.values()) == {1}
    assert len(emu.batches) == len(collector.rounds) < live_calls  # calls went out in rounds
    tokens = lambda rs: sum(c.input_tokens + c.output_tokens for c in calls_of(rs))  # noqa: E731
    assert tokens(results) == tokens(live_results)
    assert live_cost and batch_cost
    assert abs(batch_cost - live_cost / 2) <= 1e-6 * len(calls_of(results))


WORKER = """
import asyncio, sys
from pathlib import Path
from tests.integration.test_batch_api_runs import run_folder
images = sorted(Path(sys.argv[2]).glob("*.png"))
results, _ = asyncio.run(run_folder(sys.argv[1], images, Path(sys.argv[3]), batch_api=True))
print(" ".join(r.status for r in results))
"""


@pytest.mark.bwrap
def test_killed_with_a_batch_in_flight_the_rerun_finishes_without_resubmitting(
    tmp_path: Path,
) -> None:
    copy_examples(tmp_path / "images", 3)
    home = tmp_path / "home"
    cmd = [sys.executable, "-c", WORKER, "", str(tmp_path / "images"), str(home)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with BatchApiEmulator(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as emu:
        cmd[3] = emu.base_url
        first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 120
        # let the first round finish, then hold the second one in flight and kill the run
        while not any(b["status"] == "completed" for b in emu.batches.values()):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.02)
        emu.hold.set()
        while len(emu.batches) < 2:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.02)
        time.sleep(0.3)  # it is polling the held batch
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        submitted = sum(emu.submissions.values())
        emu.hold.clear()
        second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr.decode()[-3000:]
    assert second.stdout.decode().split() == ["passed"] * 3
    assert set(emu.submissions.values()) == {1}, emu.submissions
    assert sum(emu.submissions.values()) > submitted  # the rerun went on past the held round
    assert len(emu.requests) == len(emu.submissions)  # every line executed (billed) once


def cli_run(base_url: str, images: Path, home: Path, *flags: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env |= {
        "AUTORUST_DEFAULT__BASE_URL": base_url, "AUTORUST_DEFAULT__MODEL": "gpt-4o-mini",
        "OPENAI_API_KEY": "sk-test", "AUTORUST_HOME": str(home), "AUTORUST_OCR": "off",
        "AUTORUST_BATCH_API_POLL_S": "0.05", "AUTORUST_BATCH_API_GATHER_S": "0.3",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "run", str(images), "--out",
         str(home / "out"), "--output", "jsonl", *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    event = json.loads(proc.stdout.splitlines()[-1])
    return json.loads(Path(event["summary"]).read_text())


@pytest.mark.bwrap
def test_the_cli_flag_runs_the_folder_as_batches_and_the_summary_costs_half(
    tmp_path: Path,
) -> None:
    copy_examples(tmp_path / "images", 3)
    usage = OpenAIUsage(caching=False)
    with FakeOpenAI(replies_by_schema(REPLIES), usage=usage) as live:
        live_summary = cli_run(live.base_url, tmp_path / "images", tmp_path / "live")
    with BatchApiEmulator(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as emu:
        summary = cli_run(emu.base_url, tmp_path / "images", tmp_path / "b", "--batch-api")
    assert len(emu.batches) >= 1 and set(emu.submissions.values()) == {1}
    assert summary["counts"] == live_summary["counts"]
    live_cost, batch_cost = live_summary["usage"]["total"]["cost_usd"], None
    batch_cost = summary["usage"]["total"]["cost_usd"]
    assert live_cost and abs(batch_cost - live_cost / 2) <= 1e-5, (batch_cost, live_cost)


@pytest.mark.bwrap
async def test_a_batch_slower_than_the_live_call_budget_is_waited_for_not_resubmitted(
    tmp_path: Path,
) -> None:
    import asyncio

    images = copy_examples(tmp_path / "images", 1)
    config = AutorustConfig(
        default={"model": "gpt-4o-mini", "base_url": "", "call_budget_s": 1.0},
        home=str(tmp_path / "h"), output_dir=str(tmp_path / "h" / "out"), ocr="off",
    )  # fmt: skip
    with BatchApiEmulator(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as emu:
        config.default.base_url = emu.base_url
        emu.hold.set()
        asyncio.get_running_loop().call_later(3.0, emu.hold.clear)  # each round: > 1 s budget
        async with open_checkpointer(config.checkpoint_path) as saver:
            with batch_api_session(config.checkpoint_path, gather_s=0.2, poll_s=0.05) as c:
                (result,) = await BatchRun(images, config, saver, batch_api=c).run()
    assert result.status == "passed", result.error
    assert set(emu.submissions.values()) == {1}
