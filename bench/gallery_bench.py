"""The gallery corpus through the figure checker (tests/support/gallery_corpus.py): for one half
(tuning or validation), the share of originals and faithful re-renders that pass and of edits
that are caught, beside the goals of issue #25, and the host's CPU time and peak memory per
comparison. Run through ``bench/bench_figures.py --gallery [--split validation]``.
"""

from __future__ import annotations

import json
import os
import resource
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

from autorust.imaging.figures.judge import judge_figure
from tests.support.gallery_corpus import (
    EXTRA_DATA,
    EXTRA_FAITHFUL,
    FAITHFUL,
    entries,
    extra_variants,
    missing,
    variants,
)
from tests.support.gallery_render import applied, render_all

GOALS = {
    "original": 1.0,
    **{name: 0.97 for name, _, _ in FAITHFUL},
    "colour": 0.95,
    "data": 0.95,
    "label": 0.95,
    "missing series": 0.95,
}
EXTRA_GOALS = {
    **{name: 0.97 for name, _, _ in EXTRA_FAITHFUL},
    **{name: 0.95 for name in EXTRA_DATA},
    "label_shortest_word": 0.95,
    "layout_dpi": 0.97,
    "layout_size": 0.97,
    "panel_data": 0.95,
    "drop_one_series": 0.95,
}
ARTIFACTS = ("output.png", "_fit/output.png", "_fit/resized.png", "figure.json")


def renders_of(folder: Path) -> dict[str, str]:
    return {name: str(folder / name) for name in ARTIFACTS if (folder / name).is_file()}


def row_of(variant) -> str:
    name = variant.name.rsplit("-", 1)[0]  # generated kinds: "panel_data-2" is a panel_data
    if name in EXTRA_GOALS:
        return name
    if variant.kind == "faithful":
        return variant.name
    return variant.kind


def judge_case(target: Path, folder: Path) -> tuple[bool, list[str], float, int]:
    """Verdict, failed checks, host CPU seconds (with OCR children), peak traced bytes."""
    before = os.times()
    tracemalloc.start()
    result = judge_figure(target, renders_of(folder))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after = os.times()
    cpu = sum(after[i] - before[i] for i in range(4))
    return result.passed, result.failed_checks, cpu, peak


def run(split: str, names: list[str] | None = None, show: bool = False,
        out: Path | None = None, extra: bool = False) -> dict[str, tuple[int, int]]:  # fmt: skip
    if absent := missing():
        raise SystemExit(f"{len(absent)} gallery scripts missing, e.g. {absent[0]}: see "
                         "tests/support/gallery_corpus.py (extract)")  # fmt: skip
    chosen = [e for e in entries(split) if names is None or e.name in names]
    if extra and split != "tuning":
        raise SystemExit("--extra variants exist for the tuning half only")
    cases = [v for e in chosen for v in [*variants(e), *(extra_variants(e) if extra else [])]]
    started = time.perf_counter()
    folders = render_all(cases)
    rendered_s = time.perf_counter() - started
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    excluded: dict[str, int] = defaultdict(int)
    misses, cpu, peaks, records = [], [], [], []
    targets = {v.entry.name: folders.get(v.key) for v in cases if v.kind == "original"}
    for variant in cases:
        folder = folders.get(variant.key)
        from tests.support.gallery_render import target as target_of

        target = target_of(variants(variant.entry)[0])
        if folder is None or target is None or not (folder / "output.png").is_file():
            excluded[row_of(variant)] += 1
            continue
        if variant.kind not in ("original", "faithful") and not applied(folder):
            excluded[row_of(variant)] += 1
            continue
        passed, failed, seconds, peak = judge_case(target, folder)
        if (
            variant.kind not in ("original", "faithful")
            and passed
            and failed == []
            and (_same_pixels(target, folder))
        ):  # the edit did not change the picture: nothing to catch
            excluded[row_of(variant)] += 1
            continue
        cpu.append(seconds)
        peaks.append(peak)
        wanted = passed if variant.kind in ("original", "faithful") else not passed
        tally[row_of(variant)][0] += wanted
        tally[row_of(variant)][1] += 1
        records.append({"case": variant.key, "passed": passed, "wanted": wanted, "failed": failed})
        if not wanted:
            misses.append(f"  {variant.key}: passed={passed} {failed[:3]}")
        if show:
            print(f"{variant.key:<48} passed={passed!s:<5} {failed[:2]}", flush=True)
    del targets
    _print(split, len(chosen), tally, excluded, cpu, peaks, rendered_s, misses)
    if out:
        out.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return {k: (g, n) for k, (g, n) in tally.items()}


def _same_pixels(target: Path, folder: Path) -> bool:
    from autorust.imaging.figures import renders_identical

    return any(
        renders_identical(target, folder / name)
        for name in ("_fit/output.png", "output.png")
        if (folder / name).is_file()
    )


def _print(split, scripts, tally, excluded, cpu, peaks, rendered_s, misses) -> None:
    n = len(cpu)
    print(
        f"\n{split} half: {scripts} gallery scripts, {n} comparisons "
        f"(renders {rendered_s:.0f} s, cached after the first run)"
    )
    if n:
        ordered = sorted(cpu)
        print(
            f"host per comparison: CPU mean {sum(cpu) / n:.2f} s, median {ordered[n // 2]:.2f} s, "
            f"max {ordered[-1]:.2f} s (with OCR subprocesses); peak traced memory "
            f"median {sorted(peaks)[n // 2] / 1e6:.1f} MB, max {max(peaks) / 1e6:.1f} MB"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"peak RSS of the judging process {own:.0f} MB (whole bench process: imports, "
            f"every decoded image; budget 300 MB), of any finished child (render workers, "
            f"tesseract) {children:.0f} MB"
        )
    print(f"\n| {split} half | n | as wanted | goal | met | excluded |")
    print("|---|---|---|---|---|---|")
    labels = {
        "original": "original script passes",
        "colour": "main series colour: caught",
        "data": "data x1.3 every other index: caught",
        "label": "title/axis word: caught",
        "missing series": "last series left out: caught",
    }
    for row, goal in {**GOALS, **{k: v for k, v in EXTRA_GOALS.items() if k in tally}}.items():
        good, total = tally.get(row, [0, 0])
        rate = good / total if total else float("nan")
        label = labels.get(row, f"faithful {row.replace('_', ' ')} passes")
        if row in EXTRA_GOALS and not row.startswith(("dpi", "size", "layout")):
            label = f"{row.replace('_', ' ')}: caught"
        met = "yes" if total and rate >= goal else "no"
        print(
            f"| {label} | {total} | {good}/{total} ({rate:.1%}) | >= {goal:.0%} | {met} | "
            f"{excluded.get(row, 0)} |"
        )
    if misses:
        print("verdicts not as wanted:\n" + "\n".join(misses))
