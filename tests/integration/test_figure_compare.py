"""Render-and-compare on charts the tests draw: exact code near 1, each perturbation lower and
named in the feedback."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from autorust.imaging.figures import compare_figures

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
SERIES = {"North": [3, 5, 4, 6, 8, 9], "South": [2, 3, 5, 5, 6, 7]}
BASE = {
    "kind": "line",
    "colours": ["#1f77b4", "#ff7f0e"],
    "series": 2,
    "title": "Quarterly revenue",
    "ylabel": "Revenue",
}


def draw(
    path: Path,
    kind: str,
    colours: list[str],
    series: int,
    title: str,
    ylabel: str,
    figsize: tuple[float, float] = (6.4, 4.2),
    dpi: int = 100,
    linewidth: float = 1.5,
) -> Path:
    fig, ax = plt.subplots(figsize=figsize)
    for index, (name, values) in enumerate(list(SERIES.items())[:series]):
        if kind == "bar":
            offsets = [i + index * 0.4 for i in range(len(MONTHS))]
            ax.bar(offsets, values, width=0.4, color=colours[index], label=name)
            ax.set_xticks([i + 0.2 for i in range(len(MONTHS))], MONTHS)
        else:
            ax.plot(MONTHS, values, marker="o", color=colours[index], label=name, lw=linewidth)
    ax.set_title(title)
    ax.set_xlabel("Month")
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return draw(tmp_path_factory.mktemp("charts") / "target.png", **BASE)


def test_the_exact_code_scores_near_one(target: Path, tmp_path: Path) -> None:
    again = draw(tmp_path / "again.png", **BASE)
    result = compare_figures(target, again)
    print(f"exact: {result}")
    assert result.score >= 0.99 and result.differences == [] and result.passed


PERTURBATIONS = {
    "colour": (
        {"colours": ["#1f77b4", "#2ca02c"]},
        ["draws in orange #ff7f0e", "the rendering draws in green #2ca02c: use #ff7f0e"],
    ),
    "missing series": (
        {"series": 1},
        ["colour orange #ff7f0e (about", "a data series may be missing", "'south'"],
    ),
    "chart type": (
        {"kind": "bar"},
        ["chart type differs: the azure blue #1f77b4 series is drawn as lines or markers in the "
         "target, as filled shapes (bars, areas, wedges) in the rendering"],
    ),
    "labels": (
        {"title": "Weekly costs", "ylabel": "Costs"},
        ["words missing from the rendering: title 'quarterly', 'revenue'"],
    ),
    # "Revenue" is also in the title: words are counted, so losing one of the two shows
    "y label only": ({"ylabel": "Costs"}, ["words missing from the rendering: y-axis label "
                                           "'revenue'"]),
    "proportions": (
        {"figsize": (5.0, 5.0)},
        ["the image proportions differ", "figsize=(6.4, 4.2)"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_each_perturbation_scores_lower_and_is_named(
    target: Path, tmp_path: Path, name: str
) -> None:
    change, phrases = PERTURBATIONS[name]
    rendered = draw(tmp_path / f"{name}.png", **{**BASE, **change})
    exact = compare_figures(target, draw(tmp_path / "exact.png", **BASE))
    result = compare_figures(target, rendered)
    print(f"{name}: {result}")
    assert result.score < exact.score
    assert not result.passed and not result.meets(0.9), "the default check must reject it"
    assert result.failed_checks == result.differences
    for phrase in phrases:
        assert any(phrase in d for d in result.differences), (phrase, result.differences)


@pytest.mark.parametrize(
    "change",
    [{"dpi": 80}, {"dpi": 125}, {"dpi": 150}, {"linewidth": 2.5}, {"figsize": (8.0, 5.25)}],
    ids=["dpi80", "dpi125", "dpi150", "thick", "larger-figure"],
)
def test_faithful_variants_still_pass(target: Path, tmp_path: Path, change: dict) -> None:
    """Same chart at another resolution or line width: no false rejection from OCR noise."""
    result = compare_figures(target, draw(tmp_path / "variant.png", **{**BASE, **change}))
    print(f"{change}: {result}")
    assert result.passed and result.meets(0.9) and result.text_score == 1.0, result


def test_missing_rendering_is_reported_by_the_checker() -> None:
    import asyncio

    from autorust.graph.state import CodeArtifact, Execution, RunState, Spec
    from autorust.nodes.checker import figure_check

    state = RunState(
        image_path="x.png",
        spec=Spec(title="t", kind="figure", interface="figure", description="d"),
        code=CodeArtifact(source="print(1)"),
        execution=Execution(backend="local-bwrap", exit_code=0),
    )
    figure, failures = asyncio.run(figure_check(state, 0.9))
    assert figure is None and failures == [
        "no output.png was produced: save the figure with fig.savefig('output.png')"
    ]
