"""The Batch API client and resumable rounds against the loopback Batch API emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from autorust.llm.batch_api import BatchApi, BatchFailed, BatchLine, custom_id
from autorust.reporting.usage import load_prices
from autorust.runtime.batch_api_rounds import RoundStore, run_round
from tests.support.batch_api_emulator import BatchApiEmulator
from tests.support.fake_openai import Fault
from tests.support.openai_usage import OpenAIUsage

ROOT = Path(__file__).resolve().parents[2]


def _lines(n: int) -> list[BatchLine]:
    return [
        BatchLine(
            custom_id=custom_id(f"thread-{i}", "vision:0"),
            body={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"item {i}"}]},
        )
        for i in range(n)
    ]


def _api(server: BatchApiEmulator) -> BatchApi:
    return BatchApi(openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0))


def test_a_round_comes_back_with_usage_and_costs_half_of_live(tmp_path: Path) -> None:
    with BatchApiEmulator(lambda r: {"ok": True}, usage=OpenAIUsage()) as server:
        store = RoundStore(tmp_path / "c.sqlite")
        results = run_round(_api(server), store, _lines(5), poll_s=0.01)
    assert len(results) == 5 and all(r.ok for r in results.values())
    assert set(server.submissions.values()) == {1}
    usages = [result.body["usage"] for result in results.values()]
    assert all(u["prompt_tokens"] > 0 and "prompt_tokens_details" in u for u in usages)
    tokens = [sum(u[k] for u in usages) * 10_000 for k in ("prompt_tokens", "completion_tokens")]
    live = load_prices().cost("gpt-4o", *tokens)
    batch = load_prices().cost("gpt-4o", *tokens, batch=True)
    assert live and batch == live / 2


def test_failed_and_expired_lines_are_reported_and_only_they_go_out_again(tmp_path: Path) -> None:
    def responder(request: dict) -> object:
        text = request["messages"][0]["content"]
        return Fault(400, {"error": {"message": "bad"}}) if text == "item 0" else {"ok": 1}

    with BatchApiEmulator(responder, outcome="expired") as server:
        api, store = _api(server), RoundStore(tmp_path / "c.sqlite")
        lines = _lines(6)
        first = run_round(api, store, lines, poll_s=0.01)
        assert len(first) == 6  # every line accounted for: done, failed, or expired
        done = {cid for cid, r in first.items() if r.ok}
        assert len(done) == 2 and not first[lines[0].custom_id].ok
        expired = [r for r in first.values() if (r.error or {}).get("code") == "batch_expired"]
        assert len(expired) == 3
        server.outcome = "completed"
        again = [line for line in lines if line.custom_id not in done]
        second = run_round(api, store, again, poll_s=0.01)
    assert sum(r.ok for r in second.values()) == 3
    assert all(server.submissions[cid] == 1 for cid in done)


def test_cancelled_batch_returns_what_it_has(tmp_path: Path) -> None:
    with BatchApiEmulator(lambda r: {"ok": True}, polls_to_finish=10**6) as server:
        api = _api(server)
        batch_id = api.submit(_lines(4))
        api.client.batches.cancel(batch_id)
        batch = api.wait(batch_id, poll_s=0.01, timeout_s=10)
        assert batch.status == "cancelled"
        results = api.results(batch)
    assert sum(r.ok for r in results.values()) == 2 and len(results) == 4


WORKER = """
import sys, openai
from autorust.llm.batch_api import BatchApi
from autorust.runtime.batch_api_rounds import RoundStore, run_round
from tests.integration.test_batch_api import _lines
api = BatchApi(openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0))
results = run_round(api, RoundStore(sys.argv[2]), _lines(8), poll_s=0.05)
print(sum(r.ok for r in results.values()))
"""


def test_killed_while_a_batch_is_in_flight_the_rerun_polls_it_instead_of_resubmitting(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.sqlite"
    with BatchApiEmulator(lambda r: {"ok": True}) as server:
        server.hold.set()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-c", WORKER, server.base_url, str(db)]
        first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not any(b["_polls"] >= 2 for b in server.batches.values()):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        assert RoundStore(db).in_flight() == list(server.batches)
        server.hold.clear()
        second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert second.stdout.decode().strip() == "8"
    assert len(server.batches) == 1
    assert len(server.submissions) == 8 and set(server.submissions.values()) == {1}
    assert len(server.requests) == 8  # each line executed (billed) once


def test_a_batch_failing_validation_is_an_error_not_an_empty_success(tmp_path: Path) -> None:
    lines = _lines(2)
    lines[1].body["model"] = "gpt-4o"  # a provider batch holds one model
    with BatchApiEmulator(lambda r: {"ok": True}) as server:
        api = _api(server)
        batch = api.wait(api.submit(lines), poll_s=0.01, timeout_s=10)
        assert batch.status == "failed"
        with pytest.raises(BatchFailed, match="invalid_request"):
            api.results(batch)
    assert server.requests == []  # nothing ran
