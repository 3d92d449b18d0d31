"""Where to compare: candidate boxes that map the data region of two renders onto each other.

A chart drawn at another dpi is the same picture scaled: the whole image is the frame. Drawn at
another figure size, text keeps its size in points but the axes scale with the figure, so the
whole image still maps the data; saved with a tight bounding box, the content box does; and
the axes box (found from its spines) does in both cases when it can be found. Geometry is
compared in every candidate frame and the best agreement counts.
"""

from __future__ import annotations

import numpy as np

from autorust.imaging.figures.loading import Picture

Box = tuple[int, int, int, int]  # left, top, right, bottom
DARK = 100  # spines and axis lines: every channel below this
SPINE_SHARE = 0.3  # of the content's width (height): a spine is at least this long
NEAR_LONGEST = 0.7  # and at least this share of the longest such line


def _longest_runs(mask: np.ndarray) -> np.ndarray:
    """Per row, the longest run of True."""
    counts = np.cumsum(mask, axis=1, dtype=np.int32)
    resets = np.maximum.accumulate(np.where(mask, 0, counts), axis=1)
    return (counts - resets).max(axis=1) if mask.shape[1] else np.zeros(len(mask), np.int32)


def _extent(runs: np.ndarray, span: int) -> tuple[int, int] | None:
    longest = int(runs.max()) if len(runs) else 0
    if longest < max(8, SPINE_SHARE * span):
        return None
    lines = np.flatnonzero(runs >= NEAR_LONGEST * longest)
    first, last = int(lines[0]), int(lines[-1])
    return (first, last + 1) if last - first >= 0.2 * len(runs) else None


def axes_box(picture: Picture) -> Box | None:
    """The box spanned by the outermost long dark lines (the axes' spines), if there are
    such lines both ways."""
    left, top, right, bottom = picture.content_box()
    dark = (picture.rgb[top:bottom, left:right] < DARK).all(axis=2)
    rows = _extent(_longest_runs(dark), right - left)
    columns = _extent(_longest_runs(dark.T), bottom - top)
    if rows is None or columns is None:
        return None
    return left + columns[0], top + rows[0], left + columns[1], top + rows[1]


def candidate_frames(target: Picture, rendered: Picture) -> list[tuple[str, Box, Box]]:
    frames = [
        ("image", (0, 0, target.width, target.height), (0, 0, rendered.width, rendered.height)),
        ("content", target.content_box(), rendered.content_box()),
    ]
    want, have = axes_box(target), axes_box(rendered)
    if want and have:
        frames.append(("axes", want, have))
    return frames
