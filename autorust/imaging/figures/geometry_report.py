"""Sentences about where and how a series' geometry differs, for the coder."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def blobs(mask: np.ndarray) -> list[np.ndarray]:
    """Connected groups of cells, largest first."""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if not count:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    return [labels == (index + 1) for index in np.argsort(-sizes)]


def largest_blob(mask: np.ndarray) -> int:
    found = blobs(mask)
    return int(found[0].sum()) if found else 0


def large_blobs(mask: np.ndarray, cells: int) -> np.ndarray:
    """The cells of ``mask`` in groups of at least ``cells``."""
    kept = np.zeros_like(mask)
    for blob in blobs(mask):
        if blob.sum() < cells:
            break
        kept |= blob
    return kept


def _span(columns: np.ndarray, width: int, tick_names: list[tuple[float, str]]) -> str:
    """Where along x: the tick labels under the columns, else a share of the width."""
    low, high = columns.min() / width, (columns.max() + 1) / width
    names = [name for position, name in tick_names if low - 0.02 <= position <= high + 0.02]
    if names:
        return "at " + ", ".join(dict.fromkeys(names))
    return f"at {low:.0%}-{high:.0%} of the width"


def describe(
    want: np.ndarray,
    have: np.ndarray,
    missing: np.ndarray,
    extra: np.ndarray,
    filled: bool,
    tick_names: list[tuple[float, str]],
) -> str:
    """E.g. 'bars are ~30% too high at Feb, Apr' or 'the line is drawn ~12% of the height too
    low at 40-60% of the width'."""
    wrong = missing | extra
    height, width = want.shape
    columns = np.flatnonzero(wrong.any(axis=0))
    where = _span(columns, width, tick_names)
    rows = np.arange(height)[:, None]
    inside_want, inside_have = want[:, columns], have[:, columns]
    if not inside_want.any() or not inside_have.any():
        what = "drawn where the target has nothing" if not inside_want.any() else "not drawn"
        return f"{what} {where}"
    top_want = np.where(inside_want, rows, height).min(axis=0)
    top_have = np.where(inside_have, rows, height).min(axis=0)
    both = (top_want < height) & (top_have < height)
    if not both.any():
        return f"shaped differently {where}"
    if filled:
        base = max(np.where(inside_want, rows, -1).max(), np.where(inside_have, rows, -1).max())
        tall_want = (base + 1 - top_want[both]).astype(float)
        tall_have = (base + 1 - top_have[both]).astype(float)
        change = float(np.median((tall_have - tall_want) / np.maximum(tall_want, 1)))
        if abs(change) >= 0.05:
            direction = "too high" if change > 0 else "too low"
            return f"~{abs(change):.0%} {direction} {where}"
    shift = float(np.median(top_want[both] - top_have[both])) / height
    if abs(shift) >= 0.02:
        direction = "too high" if shift > 0 else "too low"
        return f"drawn ~{abs(shift):.0%} of the plot height {direction} {where}"
    return f"shaped differently {where}"
