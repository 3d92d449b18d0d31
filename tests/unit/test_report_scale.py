"""Reports that scale (issue 26 #5): images finished earlier are one row, not a re-rendered
card; cards are capped; the terminal summary is bounded."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from autorust.cli.display import SUMMARY_ROWS, summary_table
from autorust.outcomes import ItemResult
from autorust.reporting.report import REPORT_CARDS, render_html, summarize, write_reports


def _items(count: int, *, skipped: bool, status: str = "passed") -> list[ItemResult]:
    return [
        ItemResult(
            image_path=f"/imgs/{status}{i:05d}.png",
            thread_id=f"t{i}",
            status=status,
            iterations=1,
            skipped=skipped,
        )
        for i in range(count)
    ]


def test_a_rerun_lists_earlier_images_as_rows(tmp_path: Path) -> None:
    results = _items(3, skipped=True) + _items(1, skipped=False, status="failed")
    write_reports(tmp_path, results)
    page = (tmp_path / "report.html").read_text()
    assert page.count('class="card') == 1
    assert "3 finished in an earlier run" in page and "passed00002.png" in page


def test_cards_are_capped_and_what_failed_comes_first() -> None:
    results = _items(REPORT_CARDS + 5, skipped=False) + _items(2, skipped=False, status="failed")
    page = render_html(results, summarize(results))
    assert page.count('class="card') == REPORT_CARDS
    assert "7 more images of this run" in page
    assert page.index("failed00001.png") < page.index("passed00000.png")


def test_the_terminal_summary_is_bounded() -> None:
    results = _items(5000, skipped=True) + _items(3, skipped=False, status="failed")
    out = io.StringIO()
    Console(file=out, width=120).print(summary_table(summarize(results)))
    text = out.getvalue()
    assert len(text.splitlines()) < SUMMARY_ROWS * 2 + 20
    assert f"... {5003 - SUMMARY_ROWS} more" in text and "failed00002.png" in text
