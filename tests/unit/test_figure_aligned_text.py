"""Like with like (issue #25): a word replaced in small rotated text (an axis label) must not
pass as the target's pixels. The per-pixel best shift by one pixel forgives it (glyph strokes
find a stroke within one pixel almost everywhere: 37 pixels differed for 'some' -> 'kettle' in
the gallery's pyplot_simple); one shift for the whole text box does not, and OCR names it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from autorust.imaging.figures.aligned import compare_aligned, differing
from autorust.imaging.figures.facts import RenderFacts, TextFact
from autorust.imaging.figures.loading import load_picture


def _render(path: Path, label: str) -> RenderFacts:
    fig = plt.figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3, 4], "o-r")
    ax.set_ylabel(label)
    fig.canvas.draw()
    box = ax.yaxis.label.get_window_extent()
    height = fig.bbox.height
    fact = TextFact(role="y label", text=label, box=[box.x0, height - box.y1, box.x1,
                    height - box.y0], rotation=90.0)  # fmt: skip
    fig.savefig(path)
    plt.close(fig)
    return RenderFacts(size=[640, 480], dpi=100, texts=[fact])


def test_a_replaced_label_word_is_not_the_targets_pixels(tmp_path: Path) -> None:
    _render(tmp_path / "target.png", "some numbers")
    facts = _render(tmp_path / "rendered.png", "kettle numbers")
    target, rendered = (
        load_picture(tmp_path / "target.png"),
        load_picture(tmp_path / "rendered.png"),
    )
    assert differing(target, rendered).sum() < 100  # what the per-pixel shift leaves: too little
    result = compare_aligned(target, rendered, facts)
    assert not result.identical
    assert result.failures and "y label" in result.failures[0]
    assert "kettle" in result.failures[0]


def test_the_same_label_is_still_the_targets_pixels(tmp_path: Path) -> None:
    _render(tmp_path / "target.png", "some numbers")
    facts = _render(tmp_path / "rendered.png", "some numbers")
    target, rendered = (
        load_picture(tmp_path / "target.png"),
        load_picture(tmp_path / "rendered.png"),
    )
    assert compare_aligned(target, rendered, facts).identical
