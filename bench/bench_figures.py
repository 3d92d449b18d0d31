"""Render-and-compare on the project's chart corpus (tests/support/chart_corpus.py): how many
faithful variants pass and how many wrong variants of each kind are caught, against the goals
of issue #17 (>= 95% of faithful variants pass; >= 90% of each kind of wrong variant caught).

Baseline in the same run: the exact code's own render compared with itself must pass (100%).
Run:
    .venv/bin/python bench/bench_figures.py [--smoke] [--charts a,b] [--cache DIR] [--show]
    .venv/bin/python bench/bench_figures.py --gallery [--split validation|tuning] [--scripts a,b]
        [--extra]   (extra variants: tuning half only)
``--gallery`` runs the matplotlib gallery corpus of issue #25 (bench/gallery_bench.py).
``--smoke`` runs three charts (a test runs it); renders are cached in DIR (default
.cache/chart-corpus) by a hash of the corpus source, so later runs only compare.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autorust.imaging.figures import compare_figures  # noqa: E402
from tests.support.chart_corpus import CHARTS, WRONG_KINDS, render, variants  # noqa: E402

SMOKE = ["line_markers", "stacked_bars", "pie"]
GOALS = {"faithful": 0.95, **{kind: 0.90 for kind in WRONG_KINDS}}


def run(charts: list[str], cache: Path, show: bool) -> dict[str, tuple[int, int]]:
    """Per kind: (verdicts as wanted, variants)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    started = time.perf_counter()
    for chart in charts:
        found = variants(chart)
        target = render(found[0], cache)
        for variant in found:
            result = compare_figures(target, render(variant, cache))
            wanted = result.passed if variant.kind in ("exact", "faithful") else not result.passed
            tally[variant.kind][0] += wanted
            tally[variant.kind][1] += 1
            if not wanted:
                misses.append(f"  {variant.key}: passed={result.passed} {result.failed_checks}")
            if show:
                print(f"{variant.key:<36} passed={result.passed!s:<5} score={result.score:.3f} "
                      f"{result.failed_checks}", flush=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    comparisons = sum(n for _, n in tally.values())
    print(f"{len(charts)} charts, {comparisons} comparisons, {elapsed:.0f} s "
          f"({elapsed / max(1, comparisons):.2f} s per comparison)\n")  # fmt: skip
    print(f"| {'variants':<28} | {'n':>4} | {'as wanted':>9} | {'goal':>6} | met |")
    print(f"|{'-' * 30}|{'-' * 6}|{'-' * 11}|{'-' * 8}|-----|")
    for kind in ("exact", "faithful", *WRONG_KINDS):
        good, total = tally.get(kind, [0, 0])
        rate = good / total if total else float("nan")
        label = {"exact": "exact code (baseline) pass", "faithful": "faithful pass"}.get(
            kind, f"wrong {kind} caught"
        )
        goal = GOALS.get(kind, 1.0)
        met = "yes" if total and rate >= goal else "no"
        print(f"| {label:<28} | {total:>4} | {rate:>9.1%} | {goal:>6.0%} | {met:<3} |")
    false_rejects = tally["faithful"][1] - tally["faithful"][0]
    print(f"\nfalse-reject rate: {false_rejects / max(1, tally['faithful'][1]):.1%}")
    if misses:
        print("verdicts not as wanted:\n" + "\n".join(misses))
    return {kind: (good, total) for kind, (good, total) in tally.items()}


def main(argv: list[str] | None = None) -> dict[str, tuple[int, int]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help=f"only {', '.join(SMOKE)}")
    parser.add_argument("--charts", help="comma-separated chart names")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "chart-corpus")
    parser.add_argument("--show", action="store_true", help="print every comparison")
    parser.add_argument(
        "--gallery",
        action="store_true",
        help="the matplotlib gallery corpus (issue #25) instead of ours",
    )
    parser.add_argument("--split", default="validation", choices=["tuning", "validation"])
    parser.add_argument("--scripts", help="gallery: comma-separated script names")
    parser.add_argument(
        "--extra", action="store_true", help="gallery, tuning half: also the extra variants"
    )
    parser.add_argument("--out", type=Path, help="gallery: write every verdict as JSON here")
    args = parser.parse_args(argv)
    if args.gallery:
        from bench.gallery_bench import run as run_gallery

        names = args.scripts.split(",") if args.scripts else None
        return run_gallery(args.split, names, args.show, args.out, args.extra)
    charts = args.charts.split(",") if args.charts else (SMOKE if args.smoke else list(CHARTS))
    return run(charts, args.cache, args.show)


if __name__ == "__main__":
    main()
