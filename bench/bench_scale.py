"""What a big scripted batch costs outside the sandbox, a rerun of it, and a 20,000-file folder.

Each phase runs the real ``autorust run`` command (``plan_batch`` + ``run_plan``: folder scan,
plan, batch, result folders, summary and report) in a fresh process, with the scripted model
and OCR left at its default (``auto``); only the sandbox is replaced by an executor that
answers at once, so the numbers are autorust's own work. CPU is this process's plus its
children's (tesseract runs as a child), peak memory is the process's maximum RSS.

    .venv/bin/python bench/bench_scale.py                 # 1,000 images; 20,000 files
    .venv/bin/python bench/bench_scale.py --images 100 --files 2000   # quicker
    .venv/bin/python bench/bench_scale.py --smoke

Goals (issue 26): <= 0.1 CPU-s per image; a rerun <= 2 ms per image; 20,000 files < 500 MiB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_CPU_S = 0.1
GOAL_RERUN_MS = 2.0
GOAL_PEAK_MIB = 500


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def phase(folder: Path, replies: Path, workdir: Path) -> dict[str, float]:
    """One ``autorust run FOLDER --output quiet`` in this process; prints its costs as JSON."""
    os.chdir(workdir)
    from rich.console import Console

    # imports are a fixed start-up cost, not a per-image one: paid before the clock starts
    import autorust.graph.workflow
    import autorust.reporting.report
    import autorust.runtime.batch
    import autorust.storage.checkpoints  # noqa: F401
    from autorust.cli import probes
    from autorust.cli.options import OutputMode
    from autorust.cli.planning import RunRequest, plan_batch
    from autorust.cli.running import run_plan
    from tests.support.instant_executor import InstantExecutor, install

    instant = InstantExecutor()
    install(instant)

    async def no_sandbox(settings):  # type: ignore[no-untyped-def]
        return instant

    async def close(executor):  # type: ignore[no-untyped-def]
        return None

    probes.check_executor = no_sandbox  # type: ignore[assignment]
    probes.close_executor = close  # type: ignore[assignment]
    out = io.StringIO()
    started, cpu = time.perf_counter(), _cpu()
    out_dir = workdir / "out"
    request = RunRequest(path=folder, scripted=replies, output=OutputMode.quiet, out=out_dir)
    code = run_plan(plan_batch(request), Console(file=out))
    return {
        "exit": code,
        "seconds": time.perf_counter() - started,
        "cpu_s": _cpu() - cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "printed_chars": len(out.getvalue()),
    }


def run_phase(folder: Path, replies: Path, workdir: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", str(folder), str(replies), str(workdir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"phase failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_folder(folder: Path, replies: Path, distinct: int, copies: int) -> int:
    """``distinct`` images with scripted replies, each also as ``copies - 1`` byte-identical
    files (processed once, reported under every name; the original's name sorts first, so
    it is the one processed, with its replies)."""
    from tests.support.bad_images import copy_examples

    images = copy_examples(folder, distinct, replies=replies)
    for image in images:
        for n in range(1, copies):
            os.link(image, image.with_name(f"{image.stem}_copy{n}.png"))
    return len(images) * copies


def report(name: str, value: float, goal: float, unit: str) -> str:
    verdict = "met" if value <= goal else "NOT met"
    return f"{name}: {value:.3f} {unit} (goal <= {goal} {unit}: {verdict})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--distinct", type=int, default=200, help="distinct images of --files")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--phase", nargs=3)
    args = parser.parse_args()
    if args.phase:
        folder, replies, workdir = map(Path, args.phase)
        print(json.dumps(phase(folder, replies, workdir)))
        return
    if args.smoke:
        args.images, args.files, args.distinct = 6, 60, 6
    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        work = base / "batch"
        work.mkdir()
        count = make_folder(work / "images", work / "replies", args.images, 1)
        first = run_phase(work / "images", work / "replies", work)
        again = run_phase(work / "images", work / "replies", work)
        print(f"{count} images, scripted, OCR auto, sandbox replaced by an instant executor")
        print(f"  first run: {first['seconds']:.1f} s wall, peak {first['peak_mib']:.0f} MiB")
        print("  " + report("CPU per image", first["cpu_s"] / count, GOAL_CPU_S, "CPU-s"))
        print(f"  rerun: {again['seconds']:.2f} s wall, {again['cpu_s']:.2f} CPU-s")
        print("  " + report("rerun per image", again["seconds"] / count * 1000, GOAL_RERUN_MS,
                            "ms"))  # fmt: skip
        folder = base / "folder"
        folder.mkdir()
        files = make_folder(folder / "images", folder / "replies", args.distinct,
                            max(1, args.files // args.distinct))  # fmt: skip
        big = run_phase(folder / "images", folder / "replies", folder)
        size = sum(p.stat().st_size for p in (folder / "out").glob("batches/*/report.html"))
        print(f"{files} files ({args.distinct} distinct images, the rest byte-identical copies)")
        printed = big["printed_chars"]
        print(f"  {big['seconds']:.1f} s wall, {big['cpu_s']:.1f} CPU-s, report.html "
              f"{size / 1e6:.1f} MB, --output quiet printed {printed:.0f} chars")  # fmt: skip
        print("  " + report("peak memory", big["peak_mib"], GOAL_PEAK_MIB, "MiB"))
        for result in (first, again, big):  # exit 1: an example that fails by design
            assert result["exit"] in (0, 1) and result["printed_chars"] == 0, result
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
