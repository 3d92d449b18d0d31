"""Batch makespan under skewed agent latencies: sequential vs fixed per-agent limits vs adaptive.

Two measurements, each against lower bounds computed from the work done in the same run
(fixed: max over agents of work/limit; adaptive: total work/budget; never below the longest
single image, whose steps run one after another):

1. the scheduling policy alone: ``AgentScheduler`` driving images whose agent calls are
   sleeps of the skewed latencies (what the policy achieves, free of CPU costs);
2. the real batch: the real graph, runner and SQLite checkpoints, with the scripted model
   sleeping the same latencies (times ``--scale``) and an executor that sleeps instead of
   starting a sandbox, so the numbers measure scheduling, not sandbox CPU on a 2-core box.
   Its CPU seconds are printed: a busy machine shows up there, not in the policy.

Program tasks only (a figure task's render-and-compare is CPU work, not latency).

    .venv/bin/python bench/bench_batch.py [--items 120] [--scale 5]
    .venv/bin/python bench/bench_batch.py --smoke        # small and fast: checks it runs
    .venv/bin/python bench/bench_batch.py memory N       # peak RSS of one N-item batch (internal)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autorust.graph.context import AutorustConfig  # noqa: E402
from autorust.runtime.batch import BatchOptions, BatchRun  # noqa: E402
from autorust.runtime.scheduler import DEFAULT_LIMITS, AgentScheduler  # noqa: E402
from autorust.storage.checkpoints import open_checkpointer  # noqa: E402
from tests.support.bad_images import copy_examples  # noqa: E402
from tests.support.instant_executor import InstantExecutor, install  # noqa: E402

DELAYS = {"vision": 0.02, "coding": 0.08, "interpreter": 0.02, "checker": 0.02}
BUDGET = sum(DEFAULT_LIMITS.values())
TARGET = 1.15  # adaptive makespan / capacity lower bound


EXECUTOR = InstantExecutor(seconds=DELAYS["interpreter"])  # sleeps, then all tests pass
install(EXECUTOR)


def bounds(work: Counter[str], longest: float) -> dict[str, float]:
    total = sum(work.values())
    return {
        "sequential": total,
        "fixed": max(max(work[a] / DEFAULT_LIMITS[a] for a in work), longest),  # type: ignore[index]
        "adaptive": max(total / BUDGET, longest),
    }


def table(title: str, rows: list[tuple[str, float, float]], extra: str = "") -> float:
    print(title + extra)
    print(f"  {'mode':<40}{'makespan s':>11}{'lower bound s':>15}{'x bound':>9}")
    for label, seconds, bound in rows:
        print(f"  {label:<40}{seconds:>11.2f}{bound:>15.2f}{seconds / bound:>9.2f}")
    adaptive = next(s / b for label, s, b in rows if label.startswith("adaptive"))
    verdict = "ok" if adaptive <= TARGET else "over target"
    print(f"  adaptive / its bound: {adaptive:.2f}x (target <= {TARGET}x: {verdict})")
    return adaptive


# 1. the policy alone ---------------------------------------------------------------------


def iterations_of(count: int) -> list[int]:
    """Attempts per image as the scripted examples need them (palindrome, reverse_words: 2;
    sum_even: 1), in the order ``copy_examples`` creates them."""
    return [(2, 2, 1)[index % 3] for index in range(count)]


async def _policy_image(scheduler: AgentScheduler, attempts: int, gate: asyncio.Semaphore) -> None:
    async with gate:
        started = time.monotonic()
        async with scheduler.slot("vision", started):
            await asyncio.sleep(DELAYS["vision"])
        for _ in range(attempts):
            for agent in ("coding", "interpreter", "checker"):
                async with scheduler.slot(agent, started):
                    await asyncio.sleep(DELAYS[agent])


async def policy(items: int) -> float:
    plan = iterations_of(items)
    work: Counter[str] = Counter()
    for attempts in plan:
        work["vision"] += DELAYS["vision"]
        for agent in ("coding", "interpreter", "checker"):
            work[agent] += DELAYS[agent] * attempts
    longest = DELAYS["vision"] + max(plan) * sum(DELAYS[a] for a in work if a != "vision")
    limits = bounds(work, longest)
    rows = []
    for mode, in_flight in (("sequential", 1), ("fixed", 64), ("adaptive", 64)):
        scheduler = AgentScheduler(adaptive=mode == "adaptive")
        gate = asyncio.Semaphore(in_flight)
        started = time.perf_counter()
        await asyncio.gather(*(_policy_image(scheduler, n, gate) for n in plan))
        rows.append((_label(mode), time.perf_counter() - started, limits[mode]))
    return table(f"1. scheduling policy alone: {items} images, latencies {DELAYS}", rows)


def _label(mode: str) -> str:
    return {
        "sequential": "sequential (1 image at a time)",
        "fixed": "fixed limits (" + "/".join(str(n) for n in DEFAULT_LIMITS.values()) + ")",
        "adaptive": f"adaptive, budget {BUDGET}",
    }[mode]


# 2. the real batch -----------------------------------------------------------------------


def prepare(workdir: Path, items: int, delays: dict[str, float]) -> tuple[list[Path], Path]:
    replies = workdir / "replies"
    images = copy_examples(workdir / "images", items * 2, replies=replies)
    images = [p for p in images if "sales_chart" not in p.name][:items]
    model_delays = {agent: delays[agent] for agent in ("vision", "coding", "checker")}
    (replies / "_delays.yaml").write_text(yaml.safe_dump(model_delays))
    EXECUTOR.seconds = delays["interpreter"]
    return images, replies


async def run_mode(workdir: Path, images: list[Path], replies: Path, options: BatchOptions):
    home = Path(tempfile.mkdtemp(dir=workdir))
    config = AutorustConfig(
        provider="scripted", scripted_replies=str(replies), home=str(home), ocr="off"
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        started = time.perf_counter()
        results = await BatchRun(images, config, saver, options).run()
        seconds = time.perf_counter() - started
    assert all(r.status == "passed" for r in results), [r.error for r in results]
    return seconds, results


def work_by_agent(results, delays: dict[str, float]) -> tuple[Counter[str], float]:  # type: ignore[no-untyped-def]
    work: Counter[str] = Counter()
    longest = 0.0
    for result in results:
        mine: Counter[str] = Counter()
        for call in result.state.model_calls:
            mine[call.agent] += delays[call.agent]
        mine["interpreter"] += delays["interpreter"] * len(result.state.attempts)
        work.update(mine)
        longest = max(longest, sum(mine.values()))
    return work, longest


async def real_batch(items: int, scale: float) -> float:
    delays = {agent: seconds * scale for agent, seconds in DELAYS.items()}
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        images, replies = prepare(workdir, items, delays)
        rows = []
        few = images[: max(3, items // 10)]  # sequential: a tenth, against its own bound
        seconds, results = await run_mode(workdir, few, replies, BatchOptions(max_in_flight=1))
        work, longest = work_by_agent(results, delays)
        rows.append((_label("sequential") + f", {len(few)} images", seconds,
                     bounds(work, longest)["sequential"]))  # fmt: skip
        for mode in ("fixed", "adaptive"):
            options = BatchOptions(max_in_flight=64, adaptive=mode == "adaptive")
            seconds, results = await run_mode(workdir, images, replies, options)
            work, longest = work_by_agent(results, delays)
            rows.append((_label(mode), seconds, bounds(work, longest)[mode]))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    used = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    title = f"2. real batch: {len(images)} images, latencies x{scale:g}, SQLite checkpoints"
    return table(title, rows, f"; process CPU {used:.1f} s")


# 3. memory -------------------------------------------------------------------------------


async def memory(items: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        images, replies = prepare(Path(tmp), items, dict.fromkeys(DELAYS, 0.0))
        _, results = await run_mode(Path(tmp), images, replies, BatchOptions(adaptive=True))
        assert len(results) == items
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_memory(sizes: tuple[int, int]) -> None:
    peaks = {}
    for items in sizes:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "memory", str(items)],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[items] = int(out.stdout.split()[-1]) / 1024
        took = time.perf_counter() - started
        print(f"peak RSS for {items:>5} images: {peaks[items]:7.1f} MB ({took:.1f}s)")
    small, big = sizes
    print(f"{big} vs {small} images: {peaks[big] / peaks[small]:.2f}x the memory "
          f"for {big // small}x the images")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "memory":
        asyncio.run(memory(int(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--scale", type=float, default=5.0, help="latency factor, real batch")
    parser.add_argument("--smoke", action="store_true", help="a few images: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        asyncio.run(policy(12))
        asyncio.run(real_batch(6, 0.5))
        peak_memory((5, 10))
        return
    asyncio.run(policy(args.items))
    asyncio.run(real_batch(args.items, args.scale))
    peak_memory((100, 1000))


if __name__ == "__main__":
    main()
