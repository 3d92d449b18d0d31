"""What one checkpointed graph step costs in autorust vs a bare LangGraph graph, side by side.

Both run the same number of threads one after another on the same SQLite saver settings
(``open_sqlite_checkpointer``: WAL, synchronous=NORMAL). autorust runs its real graph and batch
runner with the scripted model (no delay) and an executor that answers at once, so what is
measured is the framework around the agents: state validation and serialisation, prompts,
structured output, usage records, the scheduler, result handling. The bare graph is five
async nodes in a chain over a ``TypedDict`` state, each writing one small value.

Per step = wall time / node steps that wrote a checkpoint (``source == "loop"``).

    .venv/bin/python bench/bench_step_overhead.py [items]      # default 60
    .venv/bin/python bench/bench_step_overhead.py --smoke      # 3 items, checks it runs
    .venv/bin/python bench/bench_step_overhead.py --profile    # cProfile of the autorust run
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import pstats
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autorust.graph.context import AutorustConfig  # noqa: E402
from autorust.runtime.batch import BatchOptions, BatchRun  # noqa: E402
from autorust.storage.checkpoints import open_sqlite_checkpointer  # noqa: E402
from tests.support.bad_images import copy_examples  # noqa: E402
from tests.support.instant_executor import InstantExecutor, install  # noqa: E402

TARGET_RATIO = 1.5


INSTANT = InstantExecutor()
install(INSTANT)


PROFILE_SORT = "tottime" if "--by-self-time" in sys.argv else "cumulative"


class BareState(TypedDict, total=False):
    image_path: str
    spec: str
    code: str
    approved: bool
    execution: str
    verdict: str


def bare_graph(saver):  # type: ignore[no-untyped-def]
    from langgraph.graph import END, START, StateGraph

    def node(key: str, value: object):  # type: ignore[no-untyped-def]
        async def run(state: BareState) -> dict:
            return {key: value}

        return run

    builder = StateGraph(BareState)
    chain = [("vision", "spec", "a spec"), ("coding", "code", "print(1)"),
             ("approve", "approved", True), ("interpreter", "execution", "ok"),
             ("checker", "verdict", "pass")]  # fmt: skip
    for name, key, value in chain:
        builder.add_node(name, node(key, value))
    builder.add_edge(START, chain[0][0])
    for (first, *_), (second, *_) in itertools.pairwise(chain):
        builder.add_edge(first, second)
    builder.add_edge(chain[-1][0], END)
    return builder.compile(checkpointer=saver)


async def loop_steps(saver) -> int:  # type: ignore[no-untyped-def]
    return sum([(c.metadata or {}).get("source") == "loop" async for c in saver.alist(None)])


def cpu_seconds() -> float:
    """CPU of this process, all threads (a loaded machine stretches wall time, not this)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_bare(workdir: Path, items: int) -> tuple[float, int, float]:
    async with open_sqlite_checkpointer(workdir / "bare.sqlite") as saver:
        graph = bare_graph(saver)
        started, cpu = time.perf_counter(), cpu_seconds()
        for index in range(items):
            config = {"configurable": {"thread_id": f"bare-{index}"}}
            await graph.ainvoke({"image_path": f"image-{index}.png"}, config)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return seconds, await loop_steps(saver), cpu


class NodeClock:
    """Time spent inside the agents' node bodies (the rest of a step is the framework)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self, batch: BatchRun) -> None:
        wrap = batch.scheduler.wrap

        def timed_wrap(agent, node):  # type: ignore[no-untyped-def]
            inner = wrap(agent, node)

            async def timed(state, runtime):  # type: ignore[no-untyped-def]
                started = time.perf_counter()
                try:
                    return await inner(state, runtime)
                finally:
                    self.seconds += time.perf_counter() - started

            return timed

        batch.scheduler.wrap = timed_wrap  # type: ignore[method-assign]


async def run_autorust(workdir: Path, items: int) -> tuple[float, int, float, float]:
    replies = workdir / "replies"
    # program tasks only: a figure task renders and compares images, which is work, not overhead
    images = [p for p in copy_examples(workdir / "images", items * 2, replies=replies)
              if "sales_chart" not in p.name][:items]  # fmt: skip
    config = AutorustConfig(
        provider="scripted", scripted_replies=str(replies), home=str(workdir / "home"), ocr="off"
    )
    async with open_sqlite_checkpointer(config.checkpoint_path) as saver:
        batch = BatchRun(images, config, saver, BatchOptions(max_in_flight=1))
        clock = NodeClock()
        clock.install(batch)
        started, cpu = time.perf_counter(), cpu_seconds()
        results = await batch.run()
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        assert all(r.status == "passed" for r in results), [r.error for r in results]
        return seconds, await loop_steps(saver), clock.seconds, cpu


async def measure(items: int, rounds: int, profile: bool) -> float:
    bare_ms: list[float] = []
    ours_ms: list[float] = []
    framework_ms: list[float] = []
    bare_cpu_ms: list[float] = []
    ours_cpu_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "warm").mkdir()
        await run_bare(root / "warm", 2)  # imports and first-use costs out of the numbers
        await run_autorust(root / "warm", 1)
        for index in range(rounds):  # interleaved: a busy machine slows both alike
            workdir = root / f"round{index}"
            workdir.mkdir()
            bare_s, bare_steps, bare_cpu = await run_bare(workdir, items)
            profiler = cProfile.Profile() if profile and index == 0 else None
            if profiler:
                profiler.enable()
            ours_s, ours_steps, in_nodes, ours_cpu = await run_autorust(workdir, items)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(PROFILE_SORT).print_stats(45)
            bare_ms.append(1000 * bare_s / bare_steps)
            ours_ms.append(1000 * ours_s / ours_steps)
            framework_ms.append(1000 * (ours_s - in_nodes) / ours_steps)
            bare_cpu_ms.append(1000 * bare_cpu / bare_steps)
            ours_cpu_ms.append(1000 * ours_cpu / ours_steps)
    bare, ours, framework, bare_cpu, ours_cpu = (
        statistics.median(v) for v in (bare_ms, ours_ms, framework_ms, bare_cpu_ms, ours_cpu_ms)
    )
    ratio = ours / bare
    print(f"{items} threads one after another x {rounds} rounds (median), "
          "SQLite WAL + synchronous=NORMAL")  # fmt: skip
    print(f"{'':<52}{'ms/step':>9}{'x bare':>8}")
    print(f"{'bare LangGraph: 5 nodes, TypedDict state':<52}{bare:>9.2f}{1:>8.2f}")
    print(f"{'autorust step (scripted model, instant executor)':<52}{ours:>9.2f}{ratio:>8.2f}")
    print(f"{'  of which graph, state, checkpoints, runner':<52}{framework:>9.2f}"
          f"{framework / bare:>8.2f}")  # fmt: skip
    print(f"{'  of which agent work in the nodes':<52}{ours - framework:>9.2f}")
    print(f"{'CPU per step: bare LangGraph':<52}{bare_cpu:>9.2f}{1:>8.2f}")
    print(f"{'CPU per step: autorust':<52}{ours_cpu:>9.2f}{ours_cpu / bare_cpu:>8.2f}")
    verdict = "ok" if ratio <= TARGET_RATIO else "over target"
    print(f"autorust / bare per step: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", nargs="?", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="3 items, 1 round: checks it runs")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--by-self-time", action="store_true", help="profile sorted by self time")
    args = parser.parse_args()
    if args.smoke:
        args.items, args.rounds = 3, 1
    asyncio.run(measure(args.items, args.rounds, args.profile))


if __name__ == "__main__":
    main()
