"""How long the CLI takes to start: ``autorust --help`` and ``autorust runs list``.

Medians of fresh processes, next to a bare interpreter start measured in the same run (the
machine's own floor). Target: each command <= 0.5 s.

    .venv/bin/python bench/bench_cli_start.py [runs]     # default 10
    .venv/bin/python bench/bench_cli_start.py --smoke    # 2 runs: checks it runs
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_S = 0.5


def median_seconds(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of a fresh process. On a machine shared
    with other work the wall time waits for the CPU; the CPU time does not."""
    walls, cpus = [], []
    for _ in range(runs + 1):  # the first run warms the file cache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls[1:]), statistics.median(cpus[1:])


async def make_database(path: Path, threads: int, indexed: bool) -> None:
    """A checkpoint file holding ``threads`` finished runs, in the run index (as a batch
    leaves them) or not (runs made through the API)."""
    from langgraph.checkpoint.base import empty_checkpoint

    from autorust.graph.state import RunState
    from autorust.storage.checkpoints import open_checkpointer
    from autorust.storage.listing import index_run

    async with open_checkpointer(path) as saver:
        for index in range(threads):
            checkpoint = empty_checkpoint()
            state = RunState(image_path=f"image-{index}.png", status="passed")
            checkpoint["channel_values"] = state.model_dump()
            config = {"configurable": {"thread_id": f"t{index}", "checkpoint_ns": ""}}
            await saver.aput(config, checkpoint, {"source": "loop", "step": 1}, {})
            if indexed:
                await index_run(saver, f"t{index}")


def main() -> None:
    smoke = "--smoke" in sys.argv
    runs = 2 if smoke else int(next((a for a in sys.argv[1:] if a.isdigit()), 10))
    cli = [sys.executable, "-m", "autorust.cli.main"]
    threads = 20 if smoke else 200
    with tempfile.TemporaryDirectory() as tmp:
        db, unindexed = Path(tmp) / "checkpoints.sqlite", Path(tmp) / "unindexed.sqlite"
        asyncio.run(make_database(db, threads, indexed=True))
        asyncio.run(make_database(unindexed, threads, indexed=False))
        rows = {
            "python -c pass (floor)": median_seconds([sys.executable, "-c", "pass"], runs),
            "autorust --help": median_seconds([*cli, "--help"], runs),
            "autorust run --help": median_seconds([*cli, "run", "--help"], runs),
            f"autorust runs list ({threads} runs, newest 50)": median_seconds(
                [*cli, "runs", "list", "--db", str(db)], runs
            ),
            "  same, not in the run index": median_seconds(
                [*cli, "runs", "list", "--db", str(unindexed)], runs
            ),
        }
    print(f"{'command':<34}{'wall s':>9}{'CPU s':>9}   ({runs} runs each, medians; "
          f"target <= {TARGET_S} s)")  # fmt: skip
    for name, (wall, cpu) in rows.items():
        plain = "floor" in name or name.startswith(" ")
        mark = "" if plain else ("  ok" if wall <= TARGET_S else "  over target")
        print(f"{name:<34}{wall:>9.3f}{cpu:>9.3f}{mark}")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
