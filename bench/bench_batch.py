"""Batch makespan under skewed agent latencies: sequential vs fixed per-agent limits vs adaptive.

The model is the scripted one with per-agent sleeps (``_delays.yaml``); the interpreter is
replaced *in this benchmark only* by an executor that sleeps and returns canned passing
results, so the numbers measure scheduling, not CPU-bound sandbox starts on a 2-core machine.
SQLite checkpointing is real. Lower bounds are computed from the work actually done in the
same run: fixed = max over agents of work/limit; adaptive = total work/budget, but never below
the longest single item (its nodes run one after another).

    .venv/bin/python bench/bench_batch.py [items]      # default 120
    .venv/bin/python bench/bench_batch.py memory N     # peak RSS of one N-item batch (internal)
"""

from __future__ import annotations

import asyncio
import json
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

import autorust.nodes.interpreter as interpreter_node  # noqa: E402
from autorust.graph.context import AutorustConfig  # noqa: E402
from autorust.runtime.batch import BatchOptions, BatchRun  # noqa: E402
from autorust.runtime.scheduler import DEFAULT_LIMITS  # noqa: E402
from autorust.sandbox.base import Job, JobResult  # noqa: E402
from autorust.storage.checkpoints import open_checkpointer  # noqa: E402
from tests.support.bad_images import copy_examples  # noqa: E402

DELAYS = {"vision": 0.02, "coding": 0.08, "checker": 0.02}
INTERPRETER_S = 0.02


class SleepingExecutor:
    """Stands in for the sandbox: sleeps, then reports every test as passed."""

    name = "bench-sleep"

    async def execute(self, job: Job) -> JobResult:
        await asyncio.sleep(INTERPRETER_S)
        plan = json.loads(job.files["_tests.json"])
        results = [{"name": t["name"], "passed": True} for t in plan["tests"]]
        return JobResult(exit_code=0, files={job.argv[2]: json.dumps(results).encode()})


interpreter_node.make_executor = lambda settings: SleepingExecutor()  # type: ignore[assignment]


def prepare(workdir: Path, items: int, delays: dict[str, float]) -> tuple[list[Path], Path]:
    replies = workdir / "replies"
    images = copy_examples(workdir / "images", items, replies=replies)
    (replies / "_delays.yaml").write_text(yaml.safe_dump(delays))
    return images, replies


async def run_mode(workdir: Path, images: list[Path], replies: Path, options: BatchOptions):
    home = Path(tempfile.mkdtemp(dir=workdir))
    config = AutorustConfig(provider="scripted", scripted_replies=str(replies), home=str(home))
    async with open_checkpointer(config.checkpoint_path) as saver:
        started = time.perf_counter()
        results = await BatchRun(images, config, saver, options).run()
        return time.perf_counter() - started, results


def work_by_agent(results) -> Counter[str]:
    work: Counter[str] = Counter()
    for result in results:
        for call in result.state.model_calls:
            work[call.agent] += DELAYS[call.agent]
        work["interpreter"] += INTERPRETER_S * len(result.state.attempts)
    return work


def longest_item(results) -> float:
    return max(
        sum(DELAYS[c.agent] for c in r.state.model_calls) + INTERPRETER_S * len(r.state.attempts)
        for r in results
    )


async def makespans(items: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        images, replies = prepare(workdir, items, DELAYS)
        budget = sum(DEFAULT_LIMITS.values())
        modes = {
            "sequential (1 image at a time)": BatchOptions(max_in_flight=1),
            f"fixed limits {DEFAULT_LIMITS}": BatchOptions(max_in_flight=64),
            f"adaptive, budget {budget}": BatchOptions(max_in_flight=64, adaptive=True),
        }
        rows = []
        for label, options in modes.items():
            seconds, results = await run_mode(workdir, images, replies, options)
            assert all(r.status == "passed" for r in results), "bench items must pass"
            rows.append((label, seconds, results))
        work = work_by_agent(rows[0][2])
        total, longest = sum(work.values()), longest_item(rows[0][2])
        bounds = [
            total,
            max(max(work[a] / DEFAULT_LIMITS[a] for a in work), longest),
            max(total / budget, longest),
        ]
    print(
        f"{items} items; model sleeps {DELAYS}, interpreter {INTERPRETER_S}s; work per agent (s):"
    )
    print("  " + ", ".join(f"{a} {w:.2f}" for a, w in sorted(work.items())))
    print(f"{'mode':<62}{'makespan s':>11}{'lower bound s':>15}{'x bound':>9}")
    for (label, seconds, _), bound in zip(rows, bounds, strict=True):
        print(f"{label:<62}{seconds:>11.2f}{bound:>15.2f}{seconds / bound:>9.2f}")
    print(
        f"adaptive vs fixed: {rows[1][1] / rows[2][1]:.2f}x faster; "
        f"fixed vs sequential: {rows[0][1] / rows[1][1]:.2f}x faster"
    )


async def memory(items: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        images, replies = prepare(Path(tmp), items, dict.fromkeys(DELAYS, 0.0))
        _, results = await run_mode(Path(tmp), images, replies, BatchOptions(adaptive=True))
        assert len(results) == items
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_memory() -> None:
    peaks = {}
    for items in (100, 1000):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "memory", str(items)],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[items] = int(out.stdout.split()[-1]) / 1024
        took = time.perf_counter() - started
        print(f"peak RSS for {items:>5} items: {peaks[items]:7.1f} MB ({took:.1f}s)")
    print(f"1000 vs 100 items: {peaks[1000] / peaks[100]:.2f}x the memory for 10x the items")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "memory":
        asyncio.run(memory(int(sys.argv[2])))
    else:
        asyncio.run(makespans(int(sys.argv[1]) if len(sys.argv) > 1 else 120))
        peak_memory()
