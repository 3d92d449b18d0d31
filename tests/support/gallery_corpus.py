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

import json
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
    return out


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
