"""Like with like (issue #25): in a fitted render with the target's pixels, a small mark that
one picture has and the other has not at all (the slashes of a broken axis, a left-out marker)
is a difference even below the share of the image a place needs to count; the same mark moved
by a pixel, or drawn a little differently, is not."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from autorust.imaging.figures.aligned import MIN_SHARE, compare_aligned
from autorust.imaging.figures.loading import load_picture

SIZE = (640, 480)


def _chart(mark: tuple[int, int] | None, width: int = 2) -> Image.Image:
    """Axes spines and a line, and a short black diagonal mark (about 30 px of ink) at
    ``mark``: far below MIN_SHARE of a 640x480 image (46 px)."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 60, 580, 420), outline="black", width=1)
    draw.line([(80, 400), (300, 200), (580, 120)], fill="#1f77b4", width=2)
    if mark is not None:
        x, y = mark
        draw.line([(x, y + 10), (x + 14, y)], fill="black", width=width)
    return image


def test_the_mark_is_below_the_share_a_place_needs() -> None:
    ink = (np.asarray(_chart((100, 230))) != np.asarray(_chart(None))).any(axis=2).sum()
    assert 12 <= ink < MIN_SHARE * SIZE[0] * SIZE[1]


def test_a_small_mark_left_out_is_a_difference() -> None:
    target, rendered = load_picture(_chart((100, 230))), load_picture(_chart(None))
    result = compare_aligned(target, rendered, None)
    assert not result.identical and result.same_layout
    assert len(result.failures) == 1 and "x 9" in result.failures[0]  # named at its place
    # and the other way round: a mark the target does not have
    assert compare_aligned(rendered, target, None).failures


def test_the_same_mark_a_pixel_away_or_thicker_is_no_difference() -> None:
    target = load_picture(_chart((100, 230)))
    assert compare_aligned(target, load_picture(_chart((101, 230))), None).identical
    thicker = compare_aligned(target, load_picture(_chart((100, 230), width=3)), None)
    assert thicker.identical or not thicker.failures
