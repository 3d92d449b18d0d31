"""A sample of the project's chart corpus (tests/support/chart_corpus.py): faithful variants
pass, every kind of wrong variant fails with feedback naming it. The whole corpus runs in
bench/bench_figures.py; its table is in docs/figures_and_ocr.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from autorust.imaging.figures import compare_figures
from tests.support.chart_corpus import variants

# every kind of wrong variant of three charts, and two of the six faithful variants of each
SAMPLE = {
    "line_markers": ("scale0.8", "dpi200"),
    "grouped_bars": ("dpi72", "figsize1.25"),
    "heatmap": ("scale1.5", "width1.7"),
}
CASES = [
    v for chart, faithful in SAMPLE.items() for v in variants(chart)
    if v.kind not in ("exact", "faithful") or v.name in faithful
]  # fmt: skip
# what the feedback must mention for each kind of edit
NAMED = {
    "colour": ["#"],
    "data": ["differs in position or size", "axis reads"],
    "label": ["words missing from the rendering"],
    "missing series": ["missing"],
    "chart type": ["chart type differs", "colour", "differs in position"],
}


@pytest.mark.parametrize("variant", CASES, ids=[v.key for v in CASES])
def test_corpus_sample(corpus_render, variant) -> None:
    target = corpus_render(variants(variant.chart)[0])
    result = compare_figures(target, corpus_render(variant))
    print(variant.key, result)
    if variant.kind == "faithful":
        assert result.passed, result.failed_checks
        return
    assert not result.passed
    assert any(p in check for check in result.failed_checks for p in NAMED[variant.kind])


def test_a_higher_resolution_render_of_the_same_code_passes(corpus_render, tmp_path: Path) -> None:
    """Observed case 1: at 1.25x resolution only 42/55 exact charts passed on 3f763c6."""
    from dataclasses import replace

    from tests.support.chart_corpus import Variant

    for chart in ("error_bars", "quiver_field", "single_bars"):
        exact = variants(chart)[0]
        bigger = Variant(chart, "dpi125", "faithful", replace(exact.style, dpi=125))
        result = compare_figures(corpus_render(exact), corpus_render(bigger))
        assert result.passed, (chart, result.failed_checks)
