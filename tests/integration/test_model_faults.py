"""The real ChatOpenAI path under injected faults: nothing lost, retries visible, usage exact."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.reporting.logs import setup_logging
from autorust.reporting.report import write_reports
from autorust.reporting.usage import summarize_usage
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.fake_openai import FakeOpenAI, FaultPlan, replies_by_schema, schema_name
from tests.support.runs import calls_of

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())


sum_even_replies = replies_by_schema(REPLIES)


@pytest.fixture
def quiet_logs():
    yield
    setup_logging(None)  # detach the test's log file


def http_config(server: FakeOpenAI, home: Path, **model: Any) -> AutorustConfig:
    return AutorustConfig(
        default={"model": "gpt-4o-mini", "base_url": server.base_url, **model},
        home=str(home),
        max_regenerations=3,
    )


async def test_twenty_items_survive_thirty_percent_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet_logs: None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-faults-0000")
    plan = FaultPlan(sum_even_replies, rate=0.3, seed=7, slow_s=1.2)
    images = copy_examples(tmp_path / "images", 60)[2::3]  # 20 distinct sum_even images
    log_file = tmp_path / "batch.log.jsonl"
    setup_logging(log_file)
    with FakeOpenAI(plan) as server:
        config = http_config(server, tmp_path / ".autorust", timeout_s=0.8, max_retries=6)
        async with open_checkpointer(config.checkpoint_path) as saver:
            results = await BatchRun(images, config, saver).run()
        served = dict(server.usage)

    assert len(results) == 20 and {r.image_path for r in results} == {str(p) for p in images}
    for result in results:
        assert result.status in ("passed", "failed", "error")
        if result.status == "error":
            assert "agent" in (result.error or ""), result.error
    assert sum(r.status == "passed" for r in results) >= 15
    assert sum(plan.injected.values()) >= 10, plan.injected

    calls = calls_of(results)
    assert sum(c.retries for c in calls) > 0, "client retries must be recorded in state"
    assert sum(len(c.regenerations) for c in calls) > 0, "regenerations must be in state"
    assert any("HTTP 429" in c.transient_errors or "HTTP 500" in c.transient_errors for c in calls)

    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(r["message"].startswith("invalid reply, regenerating") for r in records)
    assert any(r.get("retries", 0) > 0 and r.get("thread_id") for r in records)

    usage = summarize_usage(calls).total
    assert (usage.input_tokens, usage.output_tokens) == (
        served["prompt_tokens"],
        served["completion_tokens"],
    )
    summary = write_reports(tmp_path / "out", results)
    assert summary.usage.total.input_tokens == served["prompt_tokens"]
    assert summary.usage.total.cost_usd is not None and summary.usage.total.cost_usd > 0


async def test_persistently_invalid_output_fails_the_item_clearly(tmp_path: Path) -> None:
    def broken_coder(request: dict[str, Any]) -> dict[str, Any] | str:
        return "{not json" if schema_name(request) == "CodeArtifact" else sum_even_replies(request)

    with FakeOpenAI(broken_coder) as server:
        config = http_config(server, tmp_path / ".autorust", max_retries=0)
        async with open_checkpointer(config.checkpoint_path) as saver:
            (result,) = await BatchRun([ROOT / "examples/images/sum_even.png"], config, saver).run()
    assert result.status == "error"
    assert result.error and result.error.startswith(
        f"coding agent (model gpt-4o-mini at {server.base_url.split('/')[2]}): "
        "no valid CodeArtifact after 4"
    )
    coding = [c for c in result.state.model_calls if c.agent == "coding"]  # type: ignore[union-attr]
    assert len(coding) == 1 and len(coding[0].regenerations) == 4


def test_price_table_costs_known_models_only() -> None:
    from autorust.graph.state import ModelCall
    from autorust.reporting.usage import PriceTable

    prices = PriceTable.model_validate({"models": {"gpt-4o": {"input": 2.5, "output": 10}}})
    calls = [
        ModelCall(agent="coding", iteration=0, model="gpt-4o-2024-08-06",
                  input_tokens=1_000_000, output_tokens=100_000),
        ModelCall(agent="vision", iteration=0, model="llama3.2-vision", input_tokens=5),
    ]  # fmt: skip
    summary = summarize_usage(calls, prices)
    assert summary.per_agent["coding"].cost_usd == 3.5
    assert summary.per_agent["vision"].cost_usd is None
    assert summary.total.cost_usd == 3.5


def test_redaction_scrubs_keys_and_bearer_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from autorust.redaction import redact

    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890")
    text = redact("key sk-abcdefghijkl, Authorization: Bearer abc.def.ghi, tok-1234567890")
    assert "sk-abc" not in text and "abc.def" not in text and "tok-123" not in text
    assert text.count("[REDACTED]") == 3
    logging.getLogger("autorust.test").info("nothing to see")
