"""Observed cases 4, 5, 6 and 9 of issue #17, each on charts drawn here."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from PIL import Image

from autorust.imaging.figures import compare_figures, renders_identical
from autorust.imaging.figures import text as figure_text

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri"]


def bars(path: Path, colours: list[str], top: float | None = None, scale: float = 1.0) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.bar(DAYS, [5, 7, 6, 8, 9], color=colours)
    ax.bar(DAYS, [3, 2, 4, 3, 5], bottom=[5, 7, 6, 8, 9], color="#ff7f0e")
    ax.tick_params(labelsize=14)
    if top is not None:
        ax.set_ylim(0, top)
    ax.set_title("Traffic per day")
    fig.savefig(path, dpi=100 * scale)
    plt.close(fig)
    return path


def test_a_colour_covering_a_different_area_fails(tmp_path: Path) -> None:
    """Observed case 4: the palette recorded which hues are present, not how much they cover:
    15.6% of the pixels changed colour and the chart still passed."""
    target = bars(tmp_path / "target.png", ["#1f77b4"] * 5)
    # three of the blue bars drawn in the other series' colour: the same two hues, other areas
    rendered = bars(tmp_path / "rendered.png", ["#1f77b4", "#ff7f0e", "#ff7f0e", "#ff7f0e",
                                                 "#1f77b4"])  # fmt: skip
    result = compare_figures(target, rendered)
    assert not result.passed
    assert any("#1f77b4" in check for check in result.failed_checks), result.failed_checks


@pytest.mark.parametrize("ocr", [True, False], ids=["ocr", "no-ocr"])
def test_ocr_never_makes_the_pixel_check_looser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ocr: bool
) -> None:
    """Observed case 5: with OCR on, a chart passed at SSIM 0.80, without at 0.85. Now a data
    edit fails on its geometry whether or not OCR runs."""
    if not ocr:
        monkeypatch.setattr(figure_text, "ocr_available", lambda: False)
    target = bars(tmp_path / "target.png", ["#1f77b4"] * 5, top=16)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.bar(DAYS, [5, 10, 6, 8, 12], color="#1f77b4")  # two bars raised
    ax.bar(DAYS, [3, 2, 4, 3, 5], bottom=[5, 10, 6, 8, 12], color="#ff7f0e")
    ax.tick_params(labelsize=14)
    ax.set_ylim(0, 16)
    ax.set_title("Traffic per day")
    fig.savefig(tmp_path / "rendered.png", dpi=100)
    plt.close(fig)
    result = compare_figures(target, tmp_path / "rendered.png")
    assert not result.passed
    geometry = [c for c in result.failed_checks if "differs in position or size" in c]
    assert geometry and "too high" in " ".join(geometry), result.failed_checks
    assert (result.text_score is None) == (not ocr)


def test_axis_numbers_are_compared(tmp_path: Path) -> None:
    """Observed case 6: tick numbers were not compared; data edits were caught through SSIM
    only. A y axis to 24 (ticks to 20) instead of 16 is named with both ranges."""
    target = bars(tmp_path / "target.png", ["#1f77b4"] * 5, top=16)
    rendered = bars(tmp_path / "rendered.png", ["#1f77b4"] * 5, top=24)
    result = compare_figures(target, rendered)
    assert not result.passed
    axis = [c for c in result.failed_checks if c.startswith("the y axis reads")]
    assert axis and "-20, the target" in axis[0] and "-16 (target ticks" in axis[0], axis


UNSEEDED = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
{seed}
fig, ax = plt.subplots()
ax.scatter(np.random.rand(50), np.random.rand(50))
fig.savefig({path!r})
"""


def _run(source: str) -> None:
    exec(compile(source, "figure.py", "exec"), {})


def test_two_renders_of_unseeded_code_differ_and_seeded_ones_are_identical(
    tmp_path: Path,
) -> None:
    """Observed case 9: a chart drawing random data without a seed can never pass and the
    checker could not say why. Two renders of the code tell."""
    paths = [tmp_path / f"{name}{i}.png" for name in ("unseeded", "seeded") for i in (1, 2)]
    for path in paths[:2]:
        _run(UNSEEDED.format(seed="", path=str(path)))
    for path in paths[2:]:
        _run(UNSEEDED.format(seed="np.random.seed(0)", path=str(path)))
    assert not renders_identical(paths[0], paths[1])
    assert renders_identical(paths[2], paths[3])
    # the same picture encoded differently (compression, metadata) is still identical
    Image.open(paths[2]).save(tmp_path / "recoded.png", optimize=True, compress_level=9)
    assert (tmp_path / "recoded.png").read_bytes() != paths[2].read_bytes()
    assert renders_identical(paths[2], tmp_path / "recoded.png")
    assert not renders_identical(paths[2], tmp_path / "missing.png")
