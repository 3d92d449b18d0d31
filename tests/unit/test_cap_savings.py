"""The summary says per cap how many images it stopped and the spend it did not make."""

from autorust.reporting.cap_savings import cap_savings, describe
from autorust.reporting.report import ItemSummary


def item(status: str, cost: float, tokens: int = 1000, error: str | None = None, **kw):
    return ItemSummary(image="x.png", thread_id="t", status=status, iterations=1,
                       duration_s=1.0, error=error, input_tokens=tokens, output_tokens=0,
                       cost_usd=cost, **kw)  # fmt: skip


def test_each_cap_counts_its_items_and_the_estimated_remaining_spend() -> None:
    items = [
        item("passed", 0.04, 4000),
        item("failed", 0.02, 2000),  # mean of finished: $0.03, 3000 tokens
        item("budget_exceeded", 0.01, 1000, "--max-cost 0.05: the batch has spent"),
        item("budget_exceeded", 0.0, 0, "--max-cost 0.05: the batch has spent"),
        item("budget_exceeded", 0.05, 5000, "--max-item-cost 0.05: this image has cost"),
        item("budget_exceeded", 0.01, 1000, "--max-cost 0.05", skipped=True),  # earlier batch
    ]
    by_cap = {s.cap: s for s in cap_savings(items)}
    assert set(by_cap) == {"--max-cost", "--max-item-cost"}
    assert by_cap["--max-cost"].items == 2 and by_cap["--max-cost"].saved_usd == 0.05
    assert by_cap["--max-cost"].saved_tokens == 5000 and by_cap["--max-cost"].spent_usd == 0.01
    assert by_cap["--max-item-cost"].saved_usd == 0.0  # it had spent more than the mean
    assert "stopped 2 image(s)" in describe(by_cap["--max-cost"])
    assert "~$0.0500" in describe(by_cap["--max-cost"])


def test_with_nothing_finished_the_saving_is_unknown_not_zero() -> None:
    (saving,) = cap_savings([item("budget_exceeded", 0.01, error="--max-cost 1")])
    assert saving.saved_usd is None and "unknown" in describe(saving)
