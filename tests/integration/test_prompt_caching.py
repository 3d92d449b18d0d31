"""Prompt caching in the ledger (issue 28 item 3): cached input tokens read from the usage the
server reports, priced at the cached-input rate, shown in summaries; old ledgers still load."""

from __future__ import annotations

from pathlib import Path

from autorust.graph.context import AutorustConfig
from autorust.graph.state import ModelCall
from autorust.reporting.usage import PriceTable, load_prices, summarize_usage
from tests.support.coding_call import ask_coder
from tests.support.fake_openai import FakeOpenAI
from tests.support.openai_usage import OpenAIUsage

CODE = {"source": "def f():\n    return 1\n", "notes": ""}


async def test_cached_tokens_reported_by_the_server_reach_the_ledger(tmp_path: Path) -> None:
    with FakeOpenAI(lambda request: CODE, usage=lambda request: (2000, 1536)) as server:
        config = AutorustConfig(
            default={"model": "gpt-4o-mini", "base_url": server.base_url}, home=str(tmp_path)
        )
        _, call = await ask_coder(config)
    assert (call.input_tokens, call.cached_input_tokens) == (2000, 1536)
    summary = summarize_usage([call])
    price = load_prices().price_for("gpt-4o-mini")
    assert price is not None and price.cached_input is not None
    expected = 464 * price.input + 1536 * price.cached_input + call.output_tokens * price.output
    assert summary.total.cost_usd == round(expected / 1e6, 6)
    assert summary.total.cached_input_tokens == 1536
    uncached = PriceTable.model_validate({"models": {"gpt-4o-mini": {"input": 1, "output": 1}}})
    assert summarize_usage([call], uncached).total.cost_usd > summary.total.cost_usd


def test_the_emulated_provider_caches_a_shared_prefix_of_1024_tokens_or_more() -> None:
    usage = OpenAIUsage()
    stable = "x" * 4 * 1300
    first = usage({"messages": [{"role": "system", "content": stable + "a"}]})
    second = usage({"messages": [{"role": "system", "content": stable + "b"}]})
    short = OpenAIUsage()
    short({"messages": [{"role": "system", "content": "y" * 4000}]})
    assert first[1] == 0 and second[1] == 1280  # 128-token steps
    assert short({"messages": [{"role": "system", "content": "y" * 4000}]})[1] == 0  # < 1024


def test_a_ledger_written_before_cached_tokens_existed_still_loads() -> None:
    old = {"agent": "coding", "iteration": 0, "model": "gpt-4o", "input_tokens": 10}
    call = ModelCall.model_validate(old)
    assert call.cached_input_tokens == 0
    assert summarize_usage([call]).total.cost_usd == round(10 * 2.5 / 1e6, 6)
