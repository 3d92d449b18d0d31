"""A public, realistic chart corpus: plotting scripts of matplotlib's example gallery, each as
the task image (its render), and as coder replies: the original, faithful re-renders (another
dpi, another figure size) and one-edit perturbations (the main series' colour, its data x1.3 at
every other index, one word of the title or an axis label, the last series left out).

The 110 selected scripts are in this repository, unchanged, under
``tests/fixtures/gallery/scripts/`` (matplotlib's license in ``tests/fixtures/gallery/LICENSE``,
where they come from in ``tests/fixtures/gallery/PROVENANCE.md``);
``tests/fixtures/gallery/manifest.json`` names them, their git blob hashes and the
tuning/validation split, drawn once at random with a recorded seed. ``python -m
tests.support.gallery_corpus extract GIT_DIR`` copies them again from a snapshot of the gallery
(checking each blob hash).

A reply is the script with ``plt.show()`` removed and an epilogue that edits the current
figure (for the perturbations) and saves it as ``output.png``: an edit made on the figure
after the script ran is generic over every kind of chart the gallery draws.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "fixtures" / "gallery" / "manifest.json"
SCRIPTS = ROOT / "tests" / "fixtures" / "gallery" / "scripts"
PREFIX = "galleries/examples/"
Kind = Literal["original", "faithful", "colour", "data", "label", "missing series"]
EDIT_KINDS: tuple[Kind, ...] = ("colour", "data", "label", "missing series")
SHOW = re.compile(r"^(\s*)(?:plt|pyplot|matplotlib\.pyplot)\.show\([^)]*\)\s*$", re.M)

# faithful re-renders: (name, dpi, figure size factor)
FAITHFUL = [("dpi0.8", 80, 1.0), ("dpi1.25", 125, 1.0), ("dpi2", 200, 1.0), ("size1.25", 100, 1.25)]


def gallery_dir() -> Path:
    return SCRIPTS


def script_path(path: str) -> Path:
    """Where the script at ``path`` (``galleries/examples/...`` in matplotlib) is stored here."""
    return SCRIPTS / path.removeprefix(PREFIX)


@dataclass(frozen=True)
class Entry:
    path: str  # galleries/examples/...
    blob: str
    split: Literal["tuning", "validation"]

    @property
    def name(self) -> str:
        return Path(self.path).stem

    def source(self) -> str:
        return script_path(self.path).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Variant:
    entry: Entry
    kind: Kind
    name: str  # e.g. "dpi1.25", "colour"
    epilogue: str

    @property
    def key(self) -> str:
        return f"{self.entry.name}__{self.name}"

    def script(self) -> str:
        body = SHOW.sub(lambda m: f"{m.group(1)}pass", self.entry.source())
        return f"{body}\n\n# --- corpus epilogue ({self.name}) ---\n{self.epilogue}"


def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def entries(split: str | None = None) -> list[Entry]:
    found = [Entry(**item) for item in manifest()["scripts"]]
    return [e for e in found if split in (None, e.split)]


def missing() -> list[str]:
    """Scripts of the manifest that are not stored (none, unless the checkout is damaged)."""
    return [e.path for e in entries() if not script_path(e.path).is_file()]


SAVE = 'plt.gcf().savefig("output.png"{dpi})\n'
PRELUDE = "import matplotlib.pyplot as plt\nimport numpy as np\nfrom tests_gallery_edits import *\n"


def _faithful(entry: Entry, name: str, dpi: int, size: float) -> Variant:
    resize = (
        ""
        if size == 1.0
        else f"_f = plt.gcf()\n_f.set_size_inches(_f.get_size_inches() * {size}, forward=False)\n"
    )
    save = SAVE.format(dpi=f", dpi={dpi}" if dpi != 100 else "")
    return Variant(entry, "faithful", name, "import matplotlib.pyplot as plt\n" + resize + save)


def variants(entry: Entry) -> list[Variant]:
    out = [
        Variant(
            entry, "original", "original", "import matplotlib.pyplot as plt\n" + SAVE.format(dpi="")
        )
    ]
    out += [_faithful(entry, name, dpi, size) for name, dpi, size in FAITHFUL]
    for kind in EDIT_KINDS:
        call = {
            "colour": "edit_colour",
            "data": "edit_data",
            "label": "edit_label",
            "missing series": "drop_series",
        }[kind]
        out.append(
            Variant(
                entry,
                kind,
                kind.replace(" ", "_"),
                PRELUDE + f"{call}(plt.gcf())\n" + SAVE.format(dpi=""),
            )
        )
    return out


# More signal from the tuning half only (the validation half keeps the variants above, so its
# numbers stay comparable): other dpis and figure sizes, the data edited at another index
# pattern and by another factor, another word of a label. Written inline in the epilogue (the
# edits module is unchanged, so cached renders stay valid).
EXTRA_FAITHFUL = [("dpi0.9", 90, 1.0), ("dpi1.5", 150, 1.0), ("size0.8", 100, 0.8),
                  ("size1.5", 100, 1.5)]  # fmt: skip
EXTRA_DATA = {"data_x1.3_every_third": (1.3, 0, 3), "data_x0.8_every_other": (0.8, 0, 2)}
DATA_EDIT = """from tests_gallery_edits import _main_series, _record, _rescale
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D
_ax, _s = _main_series(plt.gcf())
if _s is None:
    _record(False, "no main series")
else:
    if isinstance(_s, Line2D):
        _y = np.asarray(_s.get_ydata(), dtype=float).copy()
        _y[{start}::{step}] *= {factor}
        _s.set_ydata(_y)
    elif isinstance(_s, BarContainer):
        for _p in _s.patches[{start}::{step}]:
            if _s.orientation == "horizontal":
                _p.set_width(_p.get_width() * {factor})
            else:
                _p.set_height(_p.get_height() * {factor})
    else:
        _o = np.asarray(_s.get_offsets(), dtype=float).copy()
        _o[{start}::{step}, 1] *= {factor}
        _s.set_offsets(_o)
    _rescale(_ax)
    _record(True, "main series x{factor} at [{start}::{step}]")
"""
LABEL_EDIT = r"""import re as _re
from tests_gallery_edits import SWAPS, _record
_f = plt.gcf()
_texts = [_f._suptitle] if getattr(_f, "_suptitle", None) is not None else []
for _a in _f.axes:
    _texts += [_a.xaxis.label, _a.yaxis.label, _a.title, _a._left_title, _a._right_title]
for _t in _texts:
    _c = _t.get_text()
    _w = _re.findall(r"(?<![\\$])\b[A-Za-z]{4,}\b", _c)
    if not _t.get_visible() or not _w or "$" in _c:
        continue
    _old = min(_w, key=len)
    _new = next(s for s in reversed(SWAPS) if s.lower() != _old.lower())
    _new = _new.lower() if _old.islower() else _new
    _t.set_text(_c.replace(_old, _new, 1))
    _record(True, f"{_old!r} -> {_new!r}")
    break
else:
    _record(False, "no title or axis label with a word")
"""


# Mechanisms that can still fool the checker (issue #25), each drawn by a generator seeded per
# script (GENERATED_SEED and the script's name), never chosen by hand per script:
# - layout_dpi / layout_size: faithful re-renders at a drawn dpi or figure size (wider than
#   FAITHFUL), several draws for scripts whose layout is decided at draw time (a layout engine,
#   adjusted margins, fixed aspect, several panels, draw callbacks);
# - panel_data: one data edit confined to ONE artist that is not the main series (another
#   panel's series when there are several panels, else another series of the panel: lines,
#   bars, loose hatched patches, filled areas, scatter), so the edited part is a small share
#   of the pixels; the last draw changes one value only;
# - drop_one_series: one series (line, bars, filled area, violin/stack body, scatter) left out
#   of an axes that draws several, drawn at random rather than the last line.
GENERATED_SEED = 2507
GENERATED_DRAWS = 3  # seeded draws of each generated kind per script
DRAW_TIME_LAYOUT = re.compile(
    r"tight_layout|constrained|layout=|draw_event|mpl_connect|set_aspect|axis\(.equal|"
    r"subplots_adjust|bbox_inches|subplot_mosaic|subfigures|subplots\((?:\s*\d|nrows|ncols)"
)
LAYOUT_DPIS = (55, 70, 85, 115, 140, 175, 240)
LAYOUT_SIZES = (0.6, 0.7, 0.85, 1.15, 1.35, 1.7)
SERIES_FINDER = """import numpy as _np
from matplotlib.collections import PathCollection as _Points, PolyCollection as _Polys
from matplotlib.container import BarContainer as _Bars
from matplotlib.patches import Rectangle as _Rect
from tests_gallery_edits import _record, _rescale
_rng = _np.random.default_rng({seed})


def _seen(_artist):
    return _artist.get_visible() and (_artist.get_alpha() is None or _artist.get_alpha() >= 0.3)


def _series_of(_a):
    found = []
    for _l in _a.get_lines():
        _xy = _np.asarray(_l.get_xydata(), dtype=float)
        if _seen(_l) and len(_xy) >= 2 and _np.ptp(_xy[:, 1]) > 0:
            found.append(("line", _l))
    _bars = [_c for _c in _a.containers if isinstance(_c, _Bars) and len(_c) >= 2]
    found += [("bars", _c) for _c in _bars]
    _in_bars = {{id(_p) for _c in _bars for _p in _c}}
    _loose = [_p for _p in _a.patches if isinstance(_p, _Rect) and id(_p) not in _in_bars
              and _seen(_p) and _p.get_height() and _p.get_width()]
    if len(_loose) >= 2:
        found.append(("patches", _loose))
    for _c in _a.collections:
        if not _seen(_c):
            continue
        if isinstance(_c, _Points) and len(_c.get_offsets()) >= 2:
            found.append(("points", _c))
        elif isinstance(_c, _Polys) and len(_c.get_paths()):
            found.append(("area", _c))
    return found


_panels = [(_a, _series_of(_a)) for _a in plt.gcf().axes
           if _a.name == "rectilinear" and _a.get_visible()]
_panels = [(_a, _s) for _a, _s in _panels if _s]
"""
PANEL_DATA = """
def _bump(_y, _f, _span):
    _d = _y * (_f - 1)
    _least = 0.08 * _span
    return _y + _np.where(_np.abs(_d) >= _least, _d, _np.sign(_f - 1) * _least)


_f = float(_rng.choice([0.7, 0.8, 1.2, 1.3]))
if len(_panels) >= 2:
    _a, _s = _panels[1 + int(_rng.integers(len(_panels) - 1))]
    _kind, _obj = _s[int(_rng.integers(len(_s)))]
elif _panels and len(_panels[0][1]) >= 2:
    _a, _s = _panels[0]
    _kind, _obj = _s[1 + int(_rng.integers(len(_s) - 1))]
else:
    _kind = None
_start = int(_rng.integers(2))


def _which(_n):  # every other index, or one index ({single}: one wrong value)
    return _np.arange(_n)[_start::2] if not {single} else _np.array([int(_rng.integers(_n))])


if _kind is None:
    _record(False, "no second panel or series with data")
else:
    if _kind == "line":
        _y = _np.asarray(_obj.get_ydata(), dtype=float).copy()
        _span = float(_np.nanmax(_y) - _np.nanmin(_y))
        _i = _which(len(_y))
        _y[_i] = _bump(_y[_i], _f, _span)
        _obj.set_ydata(_y)
    elif _kind in ("bars", "patches"):
        _patches = list(_obj)
        _flat = getattr(_obj, "orientation", "vertical") == "horizontal"
        _sizes = [_p.get_width() if _flat else _p.get_height() for _p in _patches]
        _span = float(_np.ptp(_sizes + [0.0]))
        for _p in [_patches[_k] for _k in _which(len(_patches))]:
            _v = _bump(_np.array([_p.get_width() if _flat else _p.get_height()]), _f, _span)[0]
            _p.set_width(_v) if _flat else _p.set_height(_v)
    elif _kind == "area":
        for _path in [_obj.get_paths()[_k] for _k in _which(len(_obj.get_paths()))]:
            _v = _path.vertices
            _low = _np.nanmin(_v[:, 1])
            _v[:, 1] = _low + (_v[:, 1] - _low) * min(_f, 1 / _f)  # not clipped (axes spans)
        _obj.stale = True
    else:
        _o = _np.asarray(_obj.get_offsets(), dtype=float).copy()
        _span = float(_np.nanmax(_o[:, 1]) - _np.nanmin(_o[:, 1]))
        _i = _which(len(_o))
        _o[_i, 1] = _bump(_o[_i, 1], _f, _span)
        _obj.set_offsets(_o)
    _rescale(_a)
    _at = "one index" if {single} else f"[{{_start}}::2]"
    _record(True, f"{{_kind}} of panel {{plt.gcf().axes.index(_a)}} x{{_f}} at {{_at}}")
"""
DROP_ONE = """
_many = [(_a, _s) for _a, _s in _panels if len(_s) >= 2]
if not _many:
    _record(False, "no axes with two series")
else:
    _a, _s = _many[int(_rng.integers(len(_many)))]
    _kind, _obj = _s[int(_rng.integers(len(_s)))]
    for _one in (_obj if _kind == "patches" else [_obj]):
        _one.remove()
    _record(True, f"{{_kind}} of panel {{plt.gcf().axes.index(_a)}} removed")
"""


def _seed(entry: Entry, kind: str) -> int:
    return int(hashlib.sha256(f"{GENERATED_SEED}:{entry.name}:{kind}".encode()).hexdigest()[:8], 16)


def generated_variants(entry: Entry) -> list[Variant]:
    """The seeded variants of the mechanisms above for one tuning-half script."""
    head = PRELUDE.split("from tests_gallery_edits")[0]
    out = []
    rng = random.Random(_seed(entry, "layout"))
    # every script once; a script whose layout is decided at draw time GENERATED_DRAWS times
    draws = GENERATED_DRAWS if DRAW_TIME_LAYOUT.search(entry.source()) else 1
    for n in range(1, draws + 1):
        dpi, size = rng.choice(LAYOUT_DPIS), rng.choice(LAYOUT_SIZES)
        out += [_faithful(entry, f"layout_dpi-{n}", dpi, 1.0),
                _faithful(entry, f"layout_size-{n}", 100, size)]  # fmt: skip
    for kind, name, body in (("data", "panel_data", PANEL_DATA),
                             ("missing series", "drop_one_series", DROP_ONE)):  # fmt: skip
        for n in range(1, GENERATED_DRAWS + 1):
            single = n == GENERATED_DRAWS  # the last draw edits one value only
            code = SERIES_FINDER.format(seed=_seed(entry, f"{name}-{n}")) + body.format(
                single=single
            )
            out.append(Variant(entry, kind, f"{name}-{n}", head + code + SAVE.format(dpi="")))
    return out


def extra_variants(entry: Entry) -> list[Variant]:
    """Additional variants of a tuning-half script (refused for the validation half)."""
    if entry.split != "tuning":
        raise ValueError(f"{entry.name}: extra variants are for the tuning half only")
    out = [_faithful(entry, *spec) for spec in EXTRA_FAITHFUL]
    head = PRELUDE.split("from tests_gallery_edits")[0]
    for name, (factor, start, step) in EXTRA_DATA.items():
        body = DATA_EDIT.format(factor=factor, start=start, step=step)
        out.append(Variant(entry, "data", name, head + body + SAVE.format(dpi="")))
    out.append(Variant(entry, "label", "label_shortest_word",
                       head + LABEL_EDIT + SAVE.format(dpi="")))  # fmt: skip
    return out + generated_variants(entry)


EDITS_MODULE = ROOT / "tests" / "support" / "gallery_edits.py"


def extract(git_dir: str, chosen: list[Entry]) -> None:
    """Copy the scripts chosen out of a snapshot of the gallery, byte for byte, checking each
    one's blob hash against the manifest."""
    for entry in chosen:
        data = subprocess.run(
            ["git", f"--git-dir={git_dir}", "cat-file", "blob", entry.blob],
            check=True,
            capture_output=True,
        ).stdout
        destination = script_path(entry.path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "extract":
        extract(sys.argv[2], entries())
        print(f"extracted {len(entries())} scripts into {gallery_dir()}")
    else:
        sys.exit("usage: python -m tests.support.gallery_corpus extract GIT_DIR")


CATEGORIES = (
    "lines_bars_and_markers",
    "statistics",
    "pie_and_polar_charts",
    "scales",
    "text_labels_and_annotations",
    "subplots_axes_and_figures",
    "ticks",
    "spines",
    "showcase",
    "style_sheets",
    "shapes_and_collections",
    "color",
    "misc",
    "specialty_plots",
    "pyplots",
    "units",
)
EXCLUDE = re.compile(
    r"get_sample_data|imread|\bopen\(|np\.load|read_csv|urlopen|projection=.3d|"
    r"animation|widgets|mpl_toolkits|plt\.ion|input\(|usetex|\.pdf|\.svg|"
    r"import pandas|matplotlib\.use\(|subprocess|sys\.argv|savefig"
)
SEED = 2025


def candidates(git_dir: str) -> list[tuple[str, str]]:
    """(path, blob) of gallery scripts that read no file, need no network and draw in 2-D."""
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "HEAD", "galleries/examples"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    found = []
    for line in listing:
        meta, path = line.split("\t")
        if not path.endswith(".py") or path.split("/")[2] not in CATEGORIES:
            continue
        text = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        if not EXCLUDE.search(text) and "plt." in text:
            found.append((path, meta.split()[2]))
    return found
