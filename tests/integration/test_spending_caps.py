"""Hard spending caps (issue 28 item 4): --max-cost at half of what the folder costs ends with
every item finished or budget_exceeded, the spend under the cap plus one call, and a rerun with
a larger cap finishes the rest without sending a call that had been answered."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.reporting.report import write_reports
from autorust.reporting.usage import summarize_usage
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.fake_openai import FakeOpenAI, replies_by_schema
from tests.support.openai_usage import OpenAIUsage
from tests.support.runs import calls_of

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())


async def batch(server: FakeOpenAI, images: list[Path], home: Path, **caps: float):
    config = AutorustConfig(
        default={"model": "gpt-4o-mini", "base_url": server.base_url},
        home=str(home), output_dir=str(home / "out"), ocr="off", **caps,
    )  # fmt: skip
    async with open_checkpointer(config.checkpoint_path) as saver:
        return await BatchRun(images, config, saver).run()


def cost(results) -> float:
    return summarize_usage(calls_of(results)).total.cost_usd or 0.0


@pytest.mark.bwrap
async def test_max_cost_at_half_the_folder_stops_items_and_a_larger_cap_finishes_them(
    tmp_path: Path,
) -> None:
    images = copy_examples(tmp_path / "images", 6)
    with FakeOpenAI(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as server:
        full = await batch(server, images, tmp_path / "uncapped")
        folder_cost, folder_requests = cost(full), len(server.requests)
        calls = calls_of(full)
        one_call = max(summarize_usage([c]).total.cost_usd or 0.0 for c in calls)
        assert {r.status for r in full} == {"passed"} and folder_cost > 0

        cap = folder_cost / 2
        before = len(server.requests)
        capped = await batch(server, images, tmp_path / "capped", max_cost=cap)
        statuses = {r.status for r in capped}
        why = [(r.status, r.error) for r in capped]
        assert statuses <= {"passed", "budget_exceeded"} and "budget_exceeded" in statuses, why
        assert cost(capped) <= cap + one_call
        stopped = [r for r in capped if r.status == "budget_exceeded"]
        assert all("--max-cost" in (r.error or "") for r in stopped)
        summary = write_reports(tmp_path / "report", capped)
        (saving,) = summary.cap_savings
        assert saving.cap == "--max-cost" and saving.items == len(stopped)
        markdown = (tmp_path / "report" / "summary.md").read_text()
        assert f"--max-cost stopped {len(stopped)} image(s)" in markdown
        if len(stopped) < len(capped):  # finished images tell what a stopped one would cost
            assert saving.saved_usd and saving.saved_usd <= folder_cost - cost(capped)
        else:
            assert saving.saved_usd is None and "unknown" in markdown

        rerun = await batch(server, images, tmp_path / "capped", max_cost=folder_cost * 10)
        assert {r.status for r in rerun} == {"passed"}, [(r.status, r.error) for r in rerun]
        assert all(r.skipped for r in rerun if r.image_path not in {s.image_path for s in stopped})
        # every call the folder needs was sent once over the two capped runs
        assert len(server.requests) - before == folder_requests, (before, folder_requests)


@pytest.mark.bwrap
async def test_max_item_tokens_stops_an_item_before_the_call_that_would_cross_it(
    tmp_path: Path,
) -> None:
    images = copy_examples(tmp_path / "images", 1)
    with FakeOpenAI(replies_by_schema(REPLIES), usage=OpenAIUsage(caching=False)) as server:
        (result,) = await batch(server, images, tmp_path / "h", max_item_tokens=1500)
    assert result.status == "budget_exceeded" and "--max-item-tokens" in (result.error or "")
    assert result.state is not None
    used = sum(c.input_tokens + c.output_tokens for c in result.state.model_calls)
    assert used <= 1500
