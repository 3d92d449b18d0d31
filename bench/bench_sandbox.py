"""Per-run latency of `print(1)` on every execution backend, as medians and ratios.

Baseline: a bare `python -I -S -c 'print(1)'` started from this process. Run:
    .venv/bin/python bench/bench_sandbox.py [runs]
    .venv/bin/python bench/bench_sandbox.py --smoke     # 2 runs each: checks it runs
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autorust.sandbox.base import ExecutorSettings, Job
from autorust.sandbox.cloud_function.client import CloudFunctionExecutor
from autorust.sandbox.factory import make_executor
from tests.support.cloud_function_server import cloud_function

JOB = Job(files={"main.py": "print(1)"})


async def measure(run: Callable[[], Awaitable[object]], runs: int) -> float:
    await run()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def bare() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-c", "print(1)", stdout=subprocess.DEVNULL
    )
    await proc.wait()


async def main(runs: int) -> None:
    results: dict[str, float] = {"bare python -I -S": await measure(bare, runs)}
    weak = make_executor(ExecutorSettings(kind="subprocess", allow_unsandboxed=True))
    weak.warning = None  # type: ignore[attr-defined]  # no log line per run in the benchmark
    results["subprocess (unsafe)"] = await measure(lambda: weak.execute(JOB), runs)
    local = make_executor(ExecutorSettings(kind="local"))
    results["local bwrap sandbox (cold)"] = await measure(lambda: local.execute(JOB), runs)
    with cloud_function(token="bench") as url:
        remote = CloudFunctionExecutor(url, token_provider=lambda audience: "bench")
        results["cloud function (loopback)"] = await measure(lambda: remote.execute(JOB), runs)
    base = results["bare python -I -S"]
    print(f"{'backend':<30}{'median ms':>12}{'x bare':>10}   ({runs} runs each)")
    for name, seconds in results.items():
        print(f"{name:<30}{seconds * 1000:>12.1f}{seconds / base:>10.2f}")


if __name__ == "__main__":
    if "--smoke" in sys.argv:
        asyncio.run(main(2))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
