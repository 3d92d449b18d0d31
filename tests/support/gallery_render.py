"""Render gallery corpus variants the way a figure job does: ``solution.py`` run by the
figure runner (``sandbox/figure_runner.py``) in its own process and folder, the target's size
given, so each case folder holds ``output.png``, ``_fit/*.png`` and ``figure.json``.

Renders are cached by a hash of the script, the runner and the edits module, in
``.cache/gallery`` (or ``AUTORUST_GALLERY_CACHE``).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from tests.support.gallery_corpus import EDITS_MODULE, ROOT, Variant

RUNNER = ROOT / "sandbox" / "figure_runner.py"
TIMEOUT_S = 60
# part of every cache key: renders made under other rules (e.g. before seeding) are not reused
RENDER_RULES = "seeded-0"


def cache_dir() -> Path:
    return Path(os.environ.get("AUTORUST_GALLERY_CACHE", ROOT / ".cache" / "gallery"))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
    return h.hexdigest()[:12]


def _warm() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot


def _child(folder: Path, size: tuple[int, int]) -> None:
    """In a forked child of a warm worker: run the figure runner as ``python`` would."""
    import runpy
    import signal

    os.chdir(folder)
    signal.alarm(TIMEOUT_S)
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    sys.path[:] = [str(folder), *[p for p in sys.path if p not in ("", ".")]]
    sys.argv = ["_figure_runner.py", str(size[0]), str(size[1])]
    # a faithful re-render of a script that draws unseeded random data draws the same data:
    # every render starts from the same seeds (a forked worker's numpy state differs by worker)
    import random

    import numpy

    random.seed(0)
    numpy.random.seed(0)
    try:
        runpy.run_path("_figure_runner.py", run_name="__main__")
    finally:
        os._exit(70)


def _fork_run(folder: str, size: tuple[int, int]) -> int | None:
    pid = os.fork()
    if pid == 0:
        _child(Path(folder), size)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _run(folder: Path, script: str, size: tuple[int, int]) -> dict:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "solution.py").write_text(script, encoding="utf-8")
    shutil.copy(RUNNER, folder / "_figure_runner.py")
    shutil.copy(EDITS_MODULE, folder / "tests_gallery_edits.py")
    code = _pool().apply(_fork_run, (str(folder), size))
    stderr = (folder / "stderr.txt").read_text(errors="replace")[-2000:]
    status = {"exit_code": code, "stderr": stderr}
    (folder / "status.json").write_text(json.dumps(status), encoding="utf-8")
    return status


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        os.environ.setdefault("MPLBACKEND", "Agg")
        os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "mplconfig"))
        # spawned, not forked: a forked worker would inherit whatever matplotlib state the
        # test process has by then (rcParams, styles), and render differently in a full run
        _POOL = multiprocessing.get_context("spawn").Pool(2, initializer=_warm)
    return _POOL


def target(variant: Variant) -> Path | None:
    """The task image: the original script's own render (no fitting)."""
    script = variant.script()
    folder = (
        cache_dir()
        / f"{variant.entry.name}__target_{_digest(script, RUNNER.read_text(), RENDER_RULES)}"
    )
    png = folder / "output.png"
    if not (folder / "status.json").exists():
        _run(folder, script, (0, 0))
    return png if png.exists() else None


def render(variant: Variant, target_png: Path) -> Path:
    """The case folder of ``variant`` rendered for ``target_png``'s size."""
    with Image.open(target_png) as image:
        size = image.size
    script = variant.script()
    digest = _digest(script, RUNNER.read_text(), EDITS_MODULE.read_text(), str(size), RENDER_RULES)
    folder = cache_dir() / f"{variant.key}_{digest}"
    if not (folder / "status.json").exists():
        _run(folder, script, size)
    return folder


def applied(folder: Path) -> bool:
    """Whether an edit variant changed something (faithful variants: always)."""
    edit = folder / "edit.json"
    return not edit.exists() or bool(json.loads(edit.read_text())["applied"])


def render_all(variants: list[Variant], workers: int = 2) -> dict[str, Path | None]:
    """Targets first, then every variant; returns key -> case folder (None: no target)."""
    originals = {v.entry.name: v for v in variants if v.kind == "original"}
    _pool()
    with ThreadPoolExecutor(workers) as pool:
        targets = dict(zip(originals, pool.map(target, originals.values()), strict=False))

        def one(variant: Variant) -> Path | None:
            png = targets.get(variant.entry.name)
            return render(variant, png) if png else None

        return dict(zip([v.key for v in variants], pool.map(one, variants), strict=False))
