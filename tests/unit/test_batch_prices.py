"""Batch API calls are priced at the batch rates of prices.toml: half the live rates."""

from autorust.reporting.usage import ModelPrice, PriceTable, load_prices


def test_shipped_batch_rates_are_half_of_live() -> None:
    prices = load_prices()
    for model in prices.models:
        live = prices.cost(model, 10_000, 2_000, cached_input_tokens=4_096)
        batch = prices.cost(model, 10_000, 2_000, cached_input_tokens=4_096, batch=True)
        assert live is not None and batch is not None
        assert abs(batch - live / 2) < 1e-6, model


def test_without_batch_rates_a_batch_call_costs_the_live_rate() -> None:
    table = PriceTable(models={"m": ModelPrice(input=1.0, output=2.0)})
    assert table.cost("m", 1_000_000, 1_000_000, batch=True) == 3.0
