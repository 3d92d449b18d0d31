"""The comparison never crashes on a decodable pair of images, and its verdict is its list of
failed checks (issue #17, observed cases 3 and 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autorust.graph.state import FigureComparison
from autorust.imaging.figures import compare_figures
from autorust.imaging.figures import text as figure_text


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random noise read by tesseract costs time and proves nothing about pixels."""
    monkeypatch.setattr(figure_text, "ocr_available", lambda: False)


def _stripes(colours: list[str], size: tuple[int, int] = (120, 80)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    pixels = image.load()
    rgb = [Image.new("RGB", (1, 1), c).getpixel((0, 0)) for c in colours]
    for x in range(size[0]):
        for y in range(size[1]):
            pixels[x, y] = rgb[(x // 2) % len(rgb)]
    return image


def test_palette_names_come_from_the_same_image_they_were_measured_on(tmp_path: Path) -> None:
    """Observed case 7: two images of 2-px stripes of #70d6ff and #e9ff70, the second with
    some red, raised KeyError ('cyan') in _colour_differences: no feedback at all."""
    target = _stripes(["#70d6ff", "#e9ff70"])
    rendered = _stripes(["#70d6ff", "#e9ff70"])
    rendered.paste(Image.new("RGB", (30, 20), "#ff0000"), (10, 10))
    target.save(tmp_path / "target.png")
    rendered.save(tmp_path / "rendered.png")
    result = compare_figures(tmp_path / "target.png", tmp_path / "rendered.png")
    assert not result.passed
    assert any("#ff0000" in check for check in result.failed_checks), result.failed_checks


def test_every_listed_difference_fails_the_figure(tmp_path: Path, no_ocr: None) -> None:
    """Observed case 3: 'the rendering uses colour #ff0000 (red), which the target does not'
    was listed, yet the figure passed."""
    base = Image.new("RGB", (640, 420), "white")
    base.paste(Image.new("RGB", (400, 20), "#1f77b4"), (100, 200))
    base.save(tmp_path / "target.png")
    red = base.copy()
    red.paste(Image.new("RGB", (60, 40), "#ff0000"), (500, 50))
    red.save(tmp_path / "rendered.png")
    result = compare_figures(tmp_path / "target.png", tmp_path / "rendered.png")
    assert result.failed_checks and not result.passed and not result.meets(0.0)
    assert any("red #ff0000" in check and "which the target does not" in check
               for check in result.failed_checks)  # fmt: skip


def _random_image(rng: np.random.Generator, case: int) -> Image.Image:
    kind = case % 9
    if kind == 6 and case != 6:  # one huge image is enough (it costs seconds)
        kind = 8
    width, height = (int(v) for v in rng.integers(1, 300, size=2))
    if kind == 0:
        return Image.new("RGB", (1, 1), tuple(int(v) for v in rng.integers(0, 256, 3)))
    if kind == 1:
        return Image.new("RGB", (width, height), "white")  # blank
    if kind == 2:
        return Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, 3)))
    if kind == 3:  # alpha, partly transparent noise
        return Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    if kind == 4:
        return Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L").convert(
            "P"
        )
    if kind == 5:  # 16-bit grey
        return Image.fromarray(rng.integers(0, 65535, (height, width), dtype=np.uint16))
    if kind == 6:  # huge
        return Image.fromarray(rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)).resize(
            (5000, 3000), Image.NEAREST
        )
    if kind == 7:  # thin strip
        return Image.fromarray(rng.integers(0, 256, (1, width, 3), dtype=np.uint8))
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)  # chart-like flat blocks
    return Image.fromarray(blocks).resize((width * 2 + 8, height * 2 + 6), Image.NEAREST)


@pytest.mark.parametrize("seed", range(27))
def test_any_pair_of_decodable_images_gives_a_verdict(
    tmp_path: Path, no_ocr: None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    first, second = _random_image(rng, seed), _random_image(rng, seed * 7 + 3)
    first.save(tmp_path / "a.png")
    second.save(tmp_path / "b.png")
    result = compare_figures(tmp_path / "a.png", tmp_path / "b.png")
    assert isinstance(result, FigureComparison)
    assert not any("could not be compared" in check for check in result.failed_checks)
    assert result.passed == (not result.failed_checks)
    assert result.differences == result.failed_checks
    assert 0 <= result.score <= 1
    assert compare_figures(tmp_path / "a.png", tmp_path / "a.png").passed, "itself passes"


def test_an_unreadable_rendering_is_a_failed_check_not_a_crash(tmp_path: Path) -> None:
    Image.new("RGB", (50, 40), "white").save(tmp_path / "target.png")
    (tmp_path / "output.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = compare_figures(tmp_path / "target.png", tmp_path / "output.png")
    assert not result.passed
    assert result.failed_checks[0].startswith("the rendering output.png cannot be read as an image")


def test_results_saved_before_the_verdict_field_load_with_their_old_verdict() -> None:
    old = {"score": 0.95, "ssim": 0.9, "colour_score": 1.0, "text_score": 0.9,
           "differences": ["words missing from the rendering: 'revenue'"]}  # fmt: skip
    loaded = FigureComparison.model_validate(old)
    assert not loaded.passed and loaded.failed_checks == old["differences"]
    assert FigureComparison.model_validate({**old, "text_score": 1.0}).passed
