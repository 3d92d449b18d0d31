"""What one checkpointed graph step costs in autorust vs a bare LangGraph graph, side by side.

Both run the same number of threads one after another on the same SQLite saver settings
(``open_sqlite_checkpointer``: WAL, synchronous=NORMAL). autorust runs its real graph and batch
runner with the scripted model (no delay) and an executor that answers at once, so what is
measured is the framework around the agents: state validation and serialisation, prompts,
structured output, usage records, the scheduler, result handling. The bare graph is five
async nodes in a chain over a ``TypedDict`` state, each writing one small value. A second
baseline separates what LangGraph itself costs on autorust's larger graph (ten nodes, routing,
a pydantic state, context schema) from what autorust adds: the same compiled workflow with each
agent node replaying what it returned in the autorust run (same steps, same checkpoints).

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
from typing import NamedTuple, TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autorust.graph.context import AutorustConfig  # noqa: E402
from autorust.graph.state import InputState  # noqa: E402
from autorust.graph.workflow import build_graph  # noqa: E402
from autorust.runtime.batch import BatchOptions, BatchRun  # noqa: E402
from autorust.runtime.runner import DURABILITY  # noqa: E402
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
    """Time spent inside the agents' node bodies (the rest of a step is the framework), and
    what each node returned, for the replay baseline."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.updates: dict[tuple[str, str], list[dict]] = {}  # (image, node) -> its returns

    def install(self, batch: BatchRun) -> None:
        wrap = batch.scheduler.wrap

        def timed_wrap(agent, node):  # type: ignore[no-untyped-def]
            inner = wrap(agent, node)

            async def timed(state, runtime):  # type: ignore[no-untyped-def]
                started = time.perf_counter()
                try:
                    update = await inner(state, runtime)
                finally:
                    self.seconds += time.perf_counter() - started
                self.updates.setdefault((state.image_path, node.__name__), []).append(update)
                return update

            return timed

        batch.scheduler.wrap = timed_wrap  # type: ignore[method-assign]


class AutorustRun(NamedTuple):
    seconds: float
    steps: int
    in_nodes: float
    cpu: float
    images: list[Path]
    config: AutorustConfig
    clock: NodeClock


async def run_autorust(workdir: Path, items: int) -> AutorustRun:
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
        steps = await loop_steps(saver)
    return AutorustRun(seconds, steps, clock.seconds, cpu, images, config, clock)


async def run_replay(workdir: Path, run: AutorustRun) -> tuple[float, int, float]:
    """LangGraph alone on autorust's graph and state: the same nodes, edges, pydantic state,
    context and durability, each agent node returning what it returned in ``run`` (no model,
    sandbox, image, journal, scheduler or runner); judge and approval nodes run as they are."""
    updates = {key: iter(values) for key, values in run.clock.updates.items()}

    def replay(agent, node):  # type: ignore[no-untyped-def]
        async def replayed(state, runtime):  # type: ignore[no-untyped-def]
            return next(updates[(state.image_path, node.__name__)])

        return replayed

    async with open_sqlite_checkpointer(workdir / "replay.sqlite") as saver:
        graph = build_graph(node_wrapper=replay).compile(checkpointer=saver)
        started, cpu = time.perf_counter(), cpu_seconds()
        for index, image in enumerate(run.images):
            start = InputState(image_path=str(image), max_iterations=run.config.max_iterations)
            await graph.ainvoke(
                start, {"configurable": {"thread_id": f"replay-{index}"}},
                context=run.config, durability=DURABILITY,
            )  # fmt: skip
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return seconds, await loop_steps(saver), cpu


async def measure(items: int, rounds: int, profile: bool) -> float:
    columns = ("bare", "replay", "ours", "framework", "bare_cpu", "replay_cpu", "ours_cpu")
    samples: dict[str, list[float]] = {name: [] for name in columns}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "warm").mkdir()
        await run_bare(root / "warm", 2)  # imports and first-use costs out of the numbers
        await run_replay(root / "warm", await run_autorust(root / "warm", 1))
        for index in range(rounds):  # interleaved: a busy machine slows all alike
            workdir = root / f"round{index}"
            workdir.mkdir()
            bare_s, bare_steps, bare_cpu = await run_bare(workdir, items)
            profiler = cProfile.Profile() if profile and index == 0 else None
            if profiler:
                profiler.enable()
            ours = await run_autorust(workdir, items)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(PROFILE_SORT).print_stats(45)
            replay_s, replay_steps, replay_cpu = await run_replay(workdir, ours)
            assert replay_steps == ours.steps, (replay_steps, ours.steps)  # the same path
            for name, value in (
                ("bare", bare_s / bare_steps), ("replay", replay_s / ours.steps),
                ("ours", ours.seconds / ours.steps),
                ("framework", (ours.seconds - ours.in_nodes) / ours.steps),
                ("bare_cpu", bare_cpu / bare_steps), ("replay_cpu", replay_cpu / ours.steps),
                ("ours_cpu", ours.cpu / ours.steps),
            ):  # fmt: skip
                samples[name].append(1000 * value)
    m = {name: statistics.median(values) for name, values in samples.items()}
    ratio = m["ours"] / m["bare"]
    print(f"{items} threads one after another x {rounds} rounds (median), "
          "SQLite WAL + synchronous=NORMAL")  # fmt: skip
    print(f"{'':<60}{'ms/step':>9}{'x bare':>8}")
    rows = [
        ("bare LangGraph: 5 nodes, TypedDict state", m["bare"]),
        ("LangGraph on autorust's graph + state, nodes replayed", m["replay"]),
        ("autorust step (scripted model, instant executor)", m["ours"]),
        ("  of which graph, state, checkpoints, runner", m["framework"]),
    ]
    for label, value in rows:
        print(f"{label:<60}{value:>9.2f}{value / m['bare']:>8.2f}")
    print(f"{'  of which agent work in the nodes':<60}{m['ours'] - m['framework']:>9.2f}")
    for label, key in (("bare LangGraph", "bare_cpu"), ("autorust graph, replayed", "replay_cpu"),
                       ("autorust", "ours_cpu")):  # fmt: skip
        print(f"{'CPU per step: ' + label:<60}{m[key]:>9.2f}{m[key] / m['bare_cpu']:>8.2f}")
    # the goal (issue #27) is against LangGraph running the same graph and state: a bare
    # 5-node graph is 1.34x cheaper than this one in LangGraph alone, whatever autorust does
    same_graph = m["ours"] / m["replay"]
    verdict = "met" if same_graph <= TARGET_RATIO else "NOT met"
    print(f"autorust / bare 5-node LangGraph per step: {ratio:.2f}x (information)")
    print(f"autorust / LangGraph on the same graph and state: {same_graph:.2f}x "
          f"(goal <= {TARGET_RATIO}x: {verdict})")  # fmt: skip
    return same_graph


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
