"""Runs *inside the sandbox*, in the solution's own process: renders ``solution.py`` like
``python solution.py`` would, then saves its figure again at the target image's pixel size and
exports what the figure holds as JSON.

Shipped as ``_figure_runner.py`` next to ``_harness.py``; imports nothing from autorust. Usage:
``python _figure_runner.py WIDTH HEIGHT`` (the target image's size in pixels; ``0 0``: none).

What it writes, besides whatever the solution writes:

- ``_fit/output.png``: the figure the solution saved as ``output.png``, saved again with the
  same arguments at the dpi that makes it as wide as the target (a dpi change is no
  difference);
- ``_fit/resized.png``: the same figure at its own dpi, its size in inches scaled (both sides
  alike, so its proportions stay its own) to the target's width (a larger figure is no
  difference either);
- ``figure.json``: for each of the two, the figure's size, dpi, axes, artists (data in data
  coordinates and in pixels of that PNG, colours) and texts.

Everything here runs in a process the solution controls (it may patch matplotlib or this
module): the host treats all of it as untrusted. The fitted PNGs are judged by the same pixel
comparison as ``output.png``; the exported facts may only add failures.
"""

import io
import json
import math
import os
import runpy
import sys
import traceback

FIGURE_FILE = "output.png"
FIT_DIR = "_fit"
FACTS_FILE = "figure.json"
MAX_POINTS = 400  # per artist
MAX_ARTISTS = 300  # per axes
MAX_TEXT = 200  # characters of one text


def _num(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _rgba(colour):
    from matplotlib.colors import to_rgba

    try:
        return [round(c, 4) for c in to_rgba(colour)]
    except (ValueError, TypeError):
        return None


def _first_colour(colours):
    try:
        if len(colours):
            return _rgba(colours[0])
    except TypeError:
        pass
    return None


class _Pixels:
    """Display coordinates of one save -> pixels of the PNG (origin top left)."""

    def __init__(self, height, offset):
        self.height, self.offset = height, offset

    def __call__(self, points):
        out = []
        for x, y in points:
            x, y = _num(x), _num(y)
            if x is None or y is None:
                out.append(None)
            else:
                out.append(
                    [round(x - self.offset[0], 1), round(self.height - (y - self.offset[1]), 1)]
                )
        return out

    def box(self, bbox):
        (x0, y1), (x1, y0) = self([(bbox.x0, bbox.y0), (bbox.x1, bbox.y1)])
        return [x0, y0, x1, y1]


def _text(artist, pixels, renderer, role):
    content = artist.get_text() if artist.get_visible() else ""
    if not content or not content.strip():
        return None
    try:
        box = pixels.box(artist.get_window_extent(renderer))
    except Exception:
        box = None
    return {
        "role": role,
        "text": content[:MAX_TEXT],
        "box": box,
        "colour": _rgba(artist.get_color()),
        "rotation": _num(artist.get_rotation()),
    }


def _data_points(xs, ys):
    points = []
    for x, y in zip(xs, ys, strict=False):
        x, y = _num(_date(x)), _num(_date(y))
        points.append([x, y])
    return points[:MAX_POINTS]


def _date(value):
    try:
        import matplotlib.dates as mdates
        import numpy as np

        if isinstance(value, np.datetime64) or hasattr(value, "toordinal"):
            return mdates.date2num(value)
    except Exception:
        pass
    return value


def _line(line, ax, pixels):
    try:
        xy = line.get_xydata()[:MAX_POINTS]
    except Exception:
        return None
    data = [[_num(x), _num(y)] for x, y in xy]
    try:
        shown = pixels(line.get_transform().transform(xy))
    except Exception:
        shown = [None] * len(data)
    return {
        "kind": "line",
        "label": str(line.get_label())[:MAX_TEXT],
        "colour": _rgba(line.get_color()),
        "width": _num(line.get_linewidth()),
        "style": str(line.get_linestyle()),
        "marker": str(line.get_marker()),
        "alpha": _num(line.get_alpha()),
        "data": data,
        "pixels": shown,
    }


def _rectangle(patch, pixels, renderer):
    try:
        box = pixels.box(patch.get_window_extent(renderer))
    except Exception:
        return None
    return {
        "kind": "rectangle",
        "label": str(patch.get_label())[:MAX_TEXT],
        "colour": _rgba(patch.get_facecolor()),
        "edge": _rgba(patch.get_edgecolor()),
        "alpha": _num(patch.get_alpha()),
        "fill": bool(patch.get_fill()),
        "data": [
            _num(patch.get_x()),
            _num(patch.get_y()),
            _num(patch.get_width()),
            _num(patch.get_height()),
        ],
        "box": box,
    }


def _collection(collection, pixels):
    try:
        offsets = collection.get_offsets()[:MAX_POINTS]
        shown = pixels(collection.get_offset_transform().transform(offsets))
    except Exception:
        return None
    if not len(offsets):
        return None
    return {
        "kind": "points",
        "label": str(collection.get_label())[:MAX_TEXT],
        "colour": _first_colour(collection.get_facecolor()),
        "colours": len(collection.get_facecolor()),
        "alpha": _num(collection.get_alpha()),
        "data": [[_num(x), _num(y)] for x, y in offsets],
        "pixels": shown,
    }


def _ticks(axis, pixels, renderer, role):
    out = []
    for label in axis.get_ticklabels():
        entry = _text(label, pixels, renderer, role)
        if entry:
            out.append(entry)
    return out


def _axes(ax, pixels, renderer):
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Rectangle

    artists = []
    for line in ax.get_lines():
        if line.get_visible() and (entry := _line(line, ax, pixels)):
            artists.append(entry)
    for patch in ax.patches:
        visible = isinstance(patch, Rectangle) and patch.get_visible()
        if visible and (entry := _rectangle(patch, pixels, renderer)):
            artists.append(entry)
    for collection in ax.collections:
        visible = isinstance(collection, PathCollection) and collection.get_visible()
        if visible and (entry := _collection(collection, pixels)):
            artists.append(entry)
    texts = [
        _text(t, pixels, renderer, role)
        for t, role in (
            (ax.title, "title"),
            (ax._left_title, "title"),
            (ax._right_title, "title"),
            (ax.xaxis.label, "x label"),
            (ax.yaxis.label, "y label"),
        )
    ]
    texts += [_text(t, pixels, renderer, "text") for t in ax.texts]
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        texts += [_text(t, pixels, renderer, "legend") for t in legend.get_texts()]
        if legend.get_title():
            texts.append(_text(legend.get_title(), pixels, renderer, "legend"))
    texts += _ticks(ax.xaxis, pixels, renderer, "x tick") + _ticks(
        ax.yaxis, pixels, renderer, "y tick"
    )
    return {
        "box": pixels.box(ax.get_window_extent(renderer)),
        "name": ax.name,
        "xlim": [_num(v) for v in ax.get_xlim()],
        "ylim": [_num(v) for v in ax.get_ylim()],
        "xscale": ax.get_xscale(),
        "yscale": ax.get_yscale(),
        "artists": artists[:MAX_ARTISTS],
        "texts": [t for t in texts if t],
    }


def _facts(fig, size, offset):
    renderer = fig.canvas.get_renderer()
    pixels = _Pixels(size[1], offset)
    texts = []
    if getattr(fig, "_suptitle", None) is not None:
        texts.append(_text(fig._suptitle, pixels, renderer, "title"))
    texts += [_text(t, pixels, renderer, "text") for t in fig.texts]
    for legend in fig.legends:
        texts += [_text(t, pixels, renderer, "legend") for t in legend.get_texts()]
    return {
        "size": list(size),
        "dpi": _num(fig.dpi),
        "inches": [_num(v) for v in fig.get_size_inches()],
        "axes": [_axes(ax, pixels, renderer) for ax in fig.axes if ax.get_visible()],
        "texts": [t for t in texts if t],
    }


def _png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _save(fig, path, kwargs, dpi):
    """Save like the solution did at ``dpi``; the pixel offset of the saved area (a tight
    bounding box crops the figure)."""
    import matplotlib

    kwargs = dict(kwargs, dpi=dpi)
    kwargs.pop("format", None)
    # a layout decided at draw time (a layout engine, a table's font size, a draw callback)
    # starts from the last draw's positions, made at the solution's own size: drawn once at
    # this size first, the saved picture is the one a figure made at this size draws
    fig.savefig(io.BytesIO(), format="png", **kwargs)
    fig.savefig(path, format="png", **kwargs)
    offset = (0.0, 0.0)
    if kwargs.get("bbox_inches") == "tight":
        renderer = fig.canvas.get_renderer()
        pad = kwargs.get("pad_inches", matplotlib.rcParams["savefig.pad_inches"])
        box = fig.get_tightbbox(renderer).padded(pad if isinstance(pad, (int, float)) else 0.1)
        offset = (box.x0 * dpi, box.y0 * dpi)
    return offset


def _fit(record, target):
    fig, kwargs, own_dpi = record
    own = _png_size(FIGURE_FILE)
    if own is None or not target[0]:
        return
    os.makedirs(FIT_DIR, exist_ok=True)
    facts = {
        "own": {
            "size": list(own),
            "dpi": _num(own_dpi),
            "inches": [_num(v) for v in fig.get_size_inches()],
        }
    }
    dpi = own_dpi * target[0] / own[0]
    path = os.path.join(FIT_DIR, FIGURE_FILE)
    original_dpi = fig.dpi
    offset = _save(fig, path, kwargs, dpi)
    fig.set_dpi(dpi)
    facts["fit"] = _facts(fig, _png_size(path), offset)
    fig.set_dpi(original_dpi)
    if kwargs.get("bbox_inches") is None and fig.dpi > 0:
        inches = fig.get_size_inches()
        scale = target[0] / (inches[0] * fig.dpi)
        if abs(scale - 1) > 0.01 or abs(fig.dpi - dpi) > 0.5:
            fig.set_size_inches(inches[0] * scale, inches[1] * scale, forward=False)
            path = os.path.join(FIT_DIR, "resized.png")
            offset = _save(fig, path, kwargs, fig.dpi)
            facts["resized"] = _facts(fig, _png_size(path), offset)
            fig.set_size_inches(*inches, forward=False)
    with open(FACTS_FILE, "w", encoding="utf-8") as handle:
        json.dump(facts, handle)


def main():
    target = [int(v) for v in sys.argv[1:3]] if len(sys.argv) >= 3 else [0, 0]
    os.environ.setdefault("MPLBACKEND", "Agg")
    records = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        save = Figure.savefig

        def recording_savefig(self, fname, *args, **kwargs):
            result = save(self, fname, *args, **kwargs)
            name = (
                os.path.basename(os.fspath(fname)) if isinstance(fname, (str, os.PathLike)) else ""
            )
            if name == FIGURE_FILE and not args:
                dpi = kwargs.get("dpi", matplotlib.rcParams["savefig.dpi"])
                dpi = self.dpi if dpi in (None, "figure") else float(dpi)
                records.append((self, dict(kwargs), dpi))
            return result

        Figure.savefig = recording_savefig
    except ImportError:
        pass
    sys.argv = ["solution.py"]
    sys.path.insert(0, os.getcwd())
    code = 0
    try:
        runpy.run_path("solution.py", run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    if code == 0 and records and os.path.isfile(FIGURE_FILE):
        sys.stdout.flush()
        try:
            _fit(records[-1], target)
        except Exception:
            traceback.print_exc(limit=3)
            sys.stderr.write("(the harness could not save the figure again at the target size)\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
