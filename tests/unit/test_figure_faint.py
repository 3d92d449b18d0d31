"""Pale fills (issue #25): a stacked bar segment in a pale colour differs from white, or from
the next pale segment, by less than the aligned comparison's LEVELS, so leaving it out changed
no pixel "enough" and the candidate passed as the target's own picture. A filled area that
differs faintly is a difference; the same pale fill a pixel away, or its anti-aliased edge,
is not."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from autorust.imaging.figures.aligned import LEVELS, compare_aligned
from autorust.imaging.figures.loading import load_picture

SIZE = (640, 480)
PALE = ["#eef3f9", "#dfe9f3", "#cfdeee"]  # a light sequential colour map's first steps


def _stacked(segments: int = 3, shift: int = 0) -> Image.Image:
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 60, 580, 420), outline="black", width=1)
    for bar in range(4):
        left = 120 + bar * 110 + shift
        bottom = 420
        for k in range(segments):
            top = bottom - 40 - 15 * bar
            draw.rectangle((left, top, left + 60, bottom - 1), fill=PALE[k])
            bottom = top
    return image


def test_the_pale_steps_differ_by_less_than_levels() -> None:
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in ["#ffffff", *PALE]])
    assert np.abs(np.diff(rgb, axis=0)).max() < LEVELS


def test_a_pale_segment_left_out_is_a_difference() -> None:
    target, rendered = load_picture(_stacked(3)), load_picture(_stacked(2))
    result = compare_aligned(target, rendered, None)
    assert not result.identical and result.same_layout and result.failures


def test_the_same_pale_bars_a_pixel_away_are_the_same_picture() -> None:
    target, rendered = load_picture(_stacked(3)), load_picture(_stacked(3, shift=1))
    assert compare_aligned(target, rendered, None).identical
