"""One-edit perturbations of a finished matplotlib figure (copied next to a gallery reply as
``tests_gallery_edits.py``; see gallery_corpus.py). Each edit writes ``edit.json`` saying what
it changed, or that the figure has nothing it applies to.

The *main series* is the first axes' first drawn series: a line with at least two points,
else a bar container, else a scatter collection.
"""

from __future__ import annotations

import json
import re

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D

PALETTE = ["#e377c2", "#17becf", "#bcbd22", "#8c564b", "#d62728", "#2ca02c"]
SWAPS = ["Harbor", "Gadget", "Pyramid", "Lantern", "Meadow", "Orchard", "Compass", "Kettle"]


def _record(applied: bool, what: str) -> None:
    with open("edit.json", "w", encoding="utf-8") as handle:
        json.dump({"applied": applied, "what": what}, handle)


def _main_series(fig):
    for ax in fig.axes:
        if ax.name != "rectilinear" or not ax.get_visible():
            continue
        lines = [
            ln
            for ln in ax.get_lines()
            if ln.get_visible()
            and len(ln.get_xydata()) >= 2
            and np.ptp(np.asarray(ln.get_xydata(), dtype=float)[:, 1]) > 0
        ]
        if lines:
            return ax, lines[0]
        bars = [c for c in ax.containers if isinstance(c, BarContainer) and len(c.patches) >= 2]
        if bars:
            return ax, bars[0]
        points = [
            c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets()) >= 2
        ]
        if points:
            return ax, points[0]
    return None, None


def _far_colour(current) -> str:
    try:
        rgb = np.array(to_rgb(current))
    except (ValueError, TypeError):
        return PALETTE[0]
    return max(PALETTE, key=lambda c: float(np.abs(np.array(to_rgb(c)) - rgb).sum()))


def edit_colour(fig) -> None:
    _, series = _main_series(fig)
    if series is None:
        return _record(False, "no main series")
    if isinstance(series, Line2D):
        new = _far_colour(series.get_color())
        series.set_color(new)
        series.set_markerfacecolor(new)
        series.set_markeredgecolor(new)
    elif isinstance(series, BarContainer):
        new = _far_colour(series.patches[0].get_facecolor())
        for patch in series.patches:
            patch.set_facecolor(new)
    else:
        new = _far_colour(series.get_facecolor()[0] if len(series.get_facecolor()) else "k")
        series.set_array(None)
        series.set_facecolor(new)
        series.set_edgecolor(new)
    _record(True, f"main series colour -> {new}")


def _rescale(ax) -> None:
    ax.relim()
    ax.autoscale_view()


def edit_data(fig) -> None:
    ax, series = _main_series(fig)
    if series is None:
        return _record(False, "no main series")
    if isinstance(series, Line2D):
        y = np.asarray(series.get_ydata(), dtype=float).copy()
        y[1::2] *= 1.3
        series.set_ydata(y)
    elif isinstance(series, BarContainer):
        for patch in series.patches[1::2]:
            if series.orientation == "horizontal":
                patch.set_width(patch.get_width() * 1.3)
            else:
                patch.set_height(patch.get_height() * 1.3)
    else:
        offsets = np.asarray(series.get_offsets(), dtype=float).copy()
        offsets[1::2, 1] *= 1.3
        series.set_offsets(offsets)
    _rescale(ax)
    _record(True, "main series values x1.3 at every other index")


def edit_label(fig) -> None:
    texts = [fig._suptitle] if getattr(fig, "_suptitle", None) is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
    for text in texts:
        content = text.get_text()
        words = [w for w in re.findall(r"(?<![\\$])\b[A-Za-z]{4,}\b", content)]
        if not text.get_visible() or not words or "$" in content:
            continue
        word = max(words, key=len)
        new = next(s for s in SWAPS if s.lower() != word.lower())
        if word.islower():
            new = new.lower()
        text.set_text(content.replace(word, new, 1))
        return _record(True, f"{word!r} -> {new!r}")
    _record(False, "no title or axis label with a word")


def drop_series(fig) -> None:
    for ax in fig.axes:
        if ax.name != "rectilinear":
            continue
        lines = [ln for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xydata()) >= 2]
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        if len(lines) >= 2:
            lines[-1].remove()
            return _record(True, "last line removed")
        if len(bars) >= 2:
            bars[-1].remove()
            return _record(True, "last bar series removed")
    _record(False, "fewer than two series")
