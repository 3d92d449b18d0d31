"""Per-job latency and 2-way throughput of every way to run a Python job, interleaved in one run.

Backends: bare python (no isolation), AutoGen's LocalCommandLineCodeExecutor (no isolation;
`bench` extra), llm-sandbox's bubblewrap backend (`bench` extra), autorust cold bwrap (one
sandbox started per job), autorust warm pool, and the Cloud Function on loopback. Jobs:
`print(1)` and a function + 5 asserts. Every timed job's result is checked (exit 0 and the
expected stdout): a broken sandbox can never look fast. The warm pool is timed the way it is
used, with its sandboxes started in the gaps between jobs (the interpreter agent waits on a
model between jobs; the cloud function gets a 0.2 s gap for its own warm sandbox); the
throughput rows include every sandbox start.

Run:  .venv/bin/python bench/bench_sandbox.py [--runs 30] [--smoke]
The `bench` extra conflicts with langgraph-cli's protobuf pin: install it in its own venv
(`python -m venv .venv-bench && .venv-bench/bin/pip install -e '.[bench,cloud-function]'`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autorust.sandbox.base import Job, JobResult
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

FUNCTION_JOB = """
def add_digits(n):
    total = 0
    while n:
        total += n % 10
        n //= 10
    return total

assert add_digits(0) == 0
assert add_digits(7) == 7
assert add_digits(123) == 6
assert add_digits(9999) == 36
assert add_digits(10**12 + 5) == 6
print("5 passed")
"""
WORKLOADS = {"print(1)": ("print(1)", "1"), "function + 5 asserts": (FUNCTION_JOB, "5 passed")}
BASELINE = "AutoGen LocalCommandLineCodeExecutor"

Runner = Callable[[str], Awaitable[tuple[int | None, str]]]  # code -> (exit code, stdout)


class BrokenBackend(RuntimeError):
    pass


@dataclass
class Backend:
    name: str
    run: Runner
    before_each: Callable[[], Awaitable[None]] | None = None  # untimed (the warm pool's refill)


def _job(code: str) -> Job:
    return Job(files={"main.py": code}, argv=["python", "main.py"])


def _checked(result: JobResult) -> tuple[int | None, str]:
    if result.sandbox_error:
        raise BrokenBackend(result.sandbox_error)
    return result.exit_code, result.stdout


async def bare_python(code: str) -> tuple[int | None, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-c", code, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


@contextlib.asynccontextmanager
async def autogen_backend() -> AsyncIterator[Backend | None]:
    try:
        from autogen_core import CancellationToken
        from autogen_core.code_executor import CodeBlock
        from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor
    except ImportError:
        yield None
        return
    with tempfile.TemporaryDirectory() as work_dir:
        executor = LocalCommandLineCodeExecutor(work_dir=work_dir)
        await executor.start()

        async def run(code: str) -> tuple[int | None, str]:
            result = await executor.execute_code_blocks(
                [CodeBlock(code=code, language="python")], CancellationToken()
            )
            return result.exit_code, result.output

        try:
            yield Backend(BASELINE, run)
        finally:
            await executor.stop()


@contextlib.contextmanager
def llm_sandbox_backend() -> AsyncIterator[Backend | None]:
    try:
        from llm_sandbox import SandboxBackend, SandboxSession
    except ImportError:
        yield None
        return
    with SandboxSession(backend=SandboxBackend.BUBBLEWRAP, lang="python") as session:

        async def run(code: str) -> tuple[int | None, str]:
            result = await asyncio.to_thread(session.run, code)
            return result.exit_code, result.stdout

        yield Backend("llm-sandbox bubblewrap", run)


def autorust_backend(name: str, executor: BubblewrapExecutor) -> Backend:
    async def run(code: str) -> tuple[int | None, str]:
        return _checked(await executor.execute(_job(code)))

    async def refilled() -> None:
        for _ in range(500):  # untimed: wait until every pooled sandbox is up
            await asyncio.sleep(0.002)
            if executor.pool.idle >= executor.pool.size:
                break
        for instance in list(executor.pool._idle):
            await instance.ready()

    return Backend(name, run, refilled if executor.pool.size else None)


@contextlib.contextmanager
def cloud_backend() -> AsyncIterator[Backend | None]:
    try:
        import functions_framework  # noqa: F401

        from autorust.sandbox.cloud_function.client import CloudFunctionExecutor
        from tests.support.cloud_function_server import cloud_function
    except ImportError:
        yield None
        return
    with cloud_function(token="bench") as url:
        remote = CloudFunctionExecutor(url, token_provider=lambda audience: "bench")

        async def run(code: str) -> tuple[int | None, str]:
            return _checked(await remote.execute(_job(code)))

        async def refilled() -> None:  # untimed: the function's warm sandbox restarts
            await asyncio.sleep(0.2)

        yield Backend("cloud function (loopback)", run, refilled)


async def timed(backend: Backend, code: str, expected: str) -> float:
    if backend.before_each:
        await backend.before_each()
    started = time.perf_counter()
    exit_code, stdout = await backend.run(code)
    elapsed = time.perf_counter() - started
    if exit_code != 0 or stdout.strip() != expected:
        raise BrokenBackend(
            f"{backend.name}: exit {exit_code}, stdout {stdout[:200]!r} (expected {expected!r})"
        )
    return elapsed


async def throughput(backend: Backend, code: str, expected: str, jobs: int) -> float:
    """Jobs per second with 2 running at a time, sandbox starts included."""
    queue = list(range(jobs))

    async def worker() -> None:
        while queue:
            # distinct sources: AutoGen names its files by the code's hash
            exit_code, stdout = await backend.run(f"{code}\n# job {queue.pop()}")
            if exit_code != 0 or stdout.strip() != expected:
                raise BrokenBackend(f"{backend.name}: exit {exit_code}, stdout {stdout[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(worker(), worker())
    return jobs / (time.perf_counter() - started)


async def main(runs: int, smoke: bool) -> int:
    warm = BubblewrapExecutor(warm_pool_size=2)
    cold = BubblewrapExecutor(warm_pool_size=0)
    await warm.check()
    await cold.check()
    async with contextlib.AsyncExitStack() as stack:
        backends = [Backend("bare python -I -S (no isolation)", bare_python)]
        for label, candidate in (
            ("AutoGen", await stack.enter_async_context(autogen_backend())),
            ("llm-sandbox", stack.enter_context(llm_sandbox_backend())),
        ):
            if candidate is None:
                print(f"{label} is not installed (the `bench` extra): its row is left out")
            else:
                backends.append(candidate)
        backends.append(autorust_backend("autorust bwrap, cold start", cold))
        backends.append(autorust_backend("autorust bwrap, warm pool", warm))
        remote = stack.enter_context(cloud_backend())
        if remote is not None:
            backends.append(remote)
        samples = {(b.name, w): [] for b in backends for w in WORKLOADS}
        for backend in backends:  # warm-up, untimed
            for code, expected in WORKLOADS.values():
                await timed(backend, code, expected)
        for _ in range(runs):
            order = backends[:]
            random.shuffle(order)
            for backend in order:
                for workload, (code, expected) in WORKLOADS.items():
                    samples[(backend.name, workload)].append(await timed(backend, code, expected))
        rates = {}
        throughput_jobs = 6 if smoke else 40
        for backend in backends:
            if backend.name.startswith(("AutoGen", "autorust")):
                code, expected = WORKLOADS["print(1)"]
                rates[backend.name] = await throughput(backend, code, expected, throughput_jobs)
    await warm.aclose()
    await cold.aclose()
    _report(backends, samples, rates, runs)
    return 0


def _report(backends: list[Backend], samples: dict, rates: dict, runs: int) -> None:
    names = [b.name for b in backends]
    medians = {key: statistics.median(values) for key, values in samples.items()}
    reference = BASELINE if (BASELINE, "print(1)") in medians else names[0]
    base = {w: medians.get((reference, w)) for w in WORKLOADS}
    print(f"median latency per job, {runs} interleaved runs; x = ratio to {reference}")
    header = "".join(f"{w:>28}" for w in WORKLOADS)
    print(f"{'backend':<40}{header}")
    for name in names:
        cells = ""
        for workload in WORKLOADS:
            ms = medians[(name, workload)] * 1000
            ratio = f"{medians[(name, workload)] / base[workload]:.2f}x" if base[workload] else "-"
            cells += f"{ms:>18.1f} ms {ratio:>6}"
        print(f"{name:<40}{cells}")
    if rates:
        print("throughput, print(1), 2 concurrent jobs (sandbox starts included)")
        for name, rate in rates.items():
            print(f"{name:<40}{rate:>10.1f} jobs/s")
    warm = ("autorust bwrap, warm pool", "print(1)")
    if reference == BASELINE and warm in medians:
        goals = [
            ("print(1)", 0.25),
            ("function + 5 asserts", 0.5),
        ]
        for workload, goal in goals:
            ratio = medians[("autorust bwrap, warm pool", workload)] / base[workload]
            verdict = "met" if ratio <= goal else "NOT met"
            print(f"goal warm pool <= {goal}x AutoGen for {workload}: {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="2 runs: checks every backend works")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(2 if args.smoke else args.runs, args.smoke)))
