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
import json
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
from bench.cpu_meter import CpuMeter

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
NUMPY_JOB = "import numpy as np\nprint(int(np.arange(10).sum()))"
FIGURE_JOB = """import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9], color="tab:red")
plt.title("sales")
plt.savefig("output.png")
print("saved")
"""
WORKLOADS = {
    "print(1)": ("print(1)", "1"),
    "function + 5 asserts": (FUNCTION_JOB, "5 passed"),
    "import numpy": (NUMPY_JOB, "45"),
    "matplotlib PNG": (FIGURE_JOB, "saved"),
}
GOALS = {"print(1)": 0.25, "function + 5 asserts": 0.5, "import numpy": 0.5, "matplotlib PNG": 0.5}
BASELINE = "AutoGen LocalCommandLineCodeExecutor"
ROOT = Path(__file__).resolve().parents[1]
# a venv of its own, without autorust: `python3.11 -m venv .venv-peers/autogen &&
# .venv-peers/autogen/bin/pip install autogen-ext==0.7.5 numpy matplotlib`
PEER_PYTHON = ROOT / ".venv-peers" / "autogen" / "bin" / "python"
# `python3.11 -m venv .venv-peers/llm-sandbox && .venv-peers/llm-sandbox/bin/pip install
# llm-sandbox==0.3.46` (AUTORUST_BENCH=1 bash scripts/setup.sh makes both)
LLM_SANDBOX_PYTHON = ROOT / ".venv-peers" / "llm-sandbox" / "bin" / "python"
LLM_SANDBOX = "llm-sandbox bubblewrap"
CONCURRENCY = (1, 4)

# code -> (exit code, stdout) or (exit code, stdout, seconds measured by the backend itself)
Runner = Callable[[str], Awaitable[tuple]]


class BrokenBackend(RuntimeError):
    pass


@dataclass
class Backend:
    name: str
    run: Runner
    before_each: Callable[[], Awaitable[None]] | None = None  # untimed (the warm pool's refill)
    # (code, expected, jobs, concurrency) -> jobs/s measured by the backend itself (the peer)
    rate: Callable[[str, str, int, int], Awaitable[float]] | None = None
    # concurrency -> None: open what the peer reuses across jobs, before CPU is counted
    prepare: Callable[[int], Awaitable[None]] | None = None


# what the task kind uses, imported by the waiting interpreter before the job is delivered
PRELOAD = {NUMPY_JOB: ["numpy"], FIGURE_JOB: ["numpy", "matplotlib", "matplotlib.pyplot"]}


def _job(code: str) -> Job:
    return Job(files={"main.py": code}, argv=["python", "main.py"], preload=PRELOAD.get(code, []))


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


class Peer:
    """A peer in a clean venv (``bench/peers/<name>_peer.py``): one request per line."""

    def __init__(self, python: str, script: str = "autogen_peer.py") -> None:
        self.python = python
        self.script = script
        self.proc: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.python, "-I", str(ROOT / "bench" / "peers" / self.script),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=16 * 1024 * 1024,
        )  # fmt: skip

    async def ask(self, request: dict) -> dict:
        assert self.proc and self.proc.stdin and self.proc.stdout
        async with self.lock:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            await self.proc.stdin.drain()
            line = await self.proc.stdout.readline()
        if not line:
            raise BrokenBackend("the AutoGen peer died (see its stderr above)")
        return json.loads(line)

    async def stop(self) -> None:
        if self.proc and self.proc.stdin:
            self.proc.stdin.close()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def peer_backend(name: str, peer: Peer) -> AsyncIterator[Backend]:
    """A backend answered by ``peer`` (its times and rates are taken inside the peer)."""
    await peer.start()

    async def run(code: str) -> tuple:
        answer = await peer.ask({"op": "run", "code": code})
        return answer["exit"], answer["stdout"], answer["seconds"]

    async def rate(code: str, expected: str, jobs: int, concurrency: int) -> float:
        answer = await peer.ask({"op": "rate", "code": code, "expected": expected,
                                 "jobs": jobs, "concurrency": concurrency})  # fmt: skip
        if answer["bad"]:
            raise BrokenBackend(f"{name} peer: {answer['bad']}")
        return answer["jobs_per_s"]

    async def prepare(concurrency: int) -> None:
        await peer.ask({"op": "prepare", "concurrency": concurrency})

    try:
        yield Backend(name, run, rate=rate, prepare=prepare)
    finally:
        await peer.stop()


@contextlib.asynccontextmanager
async def autogen_backend(python: str | None) -> AsyncIterator[Backend | None]:
    """AutoGen run by a clean venv's interpreter (its job starts load nothing of autorust);
    in the bench's own venv only when no peer venv is there (labelled so: its starts pay for
    whatever that venv's site-packages load)."""
    if python and Path(python).is_file():
        async with peer_backend(BASELINE, Peer(python)) as backend:
            yield backend
        return
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

        async def run_here(code: str) -> tuple:
            result = await executor.execute_code_blocks(
                [CodeBlock(code=code, language="python")], CancellationToken()
            )
            return result.exit_code, result.output

        try:
            yield Backend(BASELINE + " (bench venv, NOT clean)", run_here)
        finally:
            await executor.stop()


@contextlib.asynccontextmanager
async def llm_sandbox_backend(python: str | None) -> AsyncIterator[Backend | None]:
    """llm-sandbox run by its clean venv's interpreter; in the bench's own venv (labelled so)
    only when that venv is not there."""
    if python and Path(python).is_file():
        async with peer_backend(LLM_SANDBOX, Peer(python, "llm_sandbox_peer.py")) as backend:
            yield backend
        return
    try:
        from llm_sandbox import SandboxBackend, SandboxSession
    except ImportError:
        yield None
        return
    with SandboxSession(backend=SandboxBackend.BUBBLEWRAP, lang="python") as session:

        async def run(code: str) -> tuple[int | None, str]:
            result = await asyncio.to_thread(session.run, code)
            return result.exit_code, result.stdout

        yield Backend(LLM_SANDBOX + " (bench venv, NOT clean)", run)


def autorust_backend(name: str, executor: BubblewrapExecutor) -> Backend:
    async def run(code: str) -> tuple[int | None, str]:
        return _checked(await executor.execute(_job(code)))

    async def refilled() -> None:
        # untimed: wait until every pooled sandbox is up (the preloaded pools' too)
        pools = [executor.pool, *executor._preloaded.values()]
        for _ in range(1000):
            await asyncio.sleep(0.002)
            if all(pool.idle >= pool.size for pool in pools):
                break
        for pool in pools:
            for instance in list(pool._idle):
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
    exit_code, stdout, *own = await backend.run(code)
    elapsed = own[0] if own else time.perf_counter() - started
    if exit_code != 0 or stdout.strip() != expected:
        raise BrokenBackend(
            f"{backend.name}: exit {exit_code}, stdout {stdout[:200]!r} (expected {expected!r})"
        )
    return elapsed


async def throughput(
    backend: Backend, code: str, expected: str, jobs: int, concurrency: int
) -> float:
    """Jobs per second, back to back with ``concurrency`` at a time, sandbox starts included."""
    if backend.rate is not None:
        return await backend.rate(code, expected, jobs, concurrency)
    queue = list(range(jobs))

    async def worker() -> None:
        while queue:
            # distinct sources: AutoGen names its files by the code's hash
            exit_code, stdout, *_ = await backend.run(f"{code}\n# job {queue.pop()}")
            if exit_code != 0 or stdout.strip() != expected:
                raise BrokenBackend(f"{backend.name}: exit {exit_code}, stdout {stdout[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return jobs / (time.perf_counter() - started)


async def main(
    runs: int, smoke: bool, peer_python: str | None, jobs: int, llm_python: str | None = None
) -> int:
    meter = CpuMeter()  # before any child starts: they inherit the cgroup
    warm = BubblewrapExecutor(warm_pool_size=2)
    cold = BubblewrapExecutor(warm_pool_size=0)
    await warm.check()
    await cold.check()
    async with contextlib.AsyncExitStack() as stack:
        backends = [Backend("bare python -I -S (no isolation)", bare_python)]
        for label, candidate in (
            ("AutoGen", await stack.enter_async_context(autogen_backend(peer_python))),
            ("llm-sandbox", await stack.enter_async_context(llm_sandbox_backend(llm_python))),
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
        # bare -S has no site-packages, llm-sandbox runs the system python in a venv of its own
        # (it would pip-install numpy and matplotlib per session): no numpy or matplotlib there
        plain = {w: WORKLOADS[w] for w in ("print(1)", "function + 5 asserts")}

        def workloads(backend: Backend) -> dict[str, tuple[str, str]]:
            return plain if backend.name.startswith(("bare", LLM_SANDBOX)) else WORKLOADS

        samples = {(b.name, w): [] for b in backends for w in workloads(b)}
        for backend in backends:  # warm-up, untimed
            for code, expected in workloads(backend).values():
                await timed(backend, code, expected)
        for _ in range(runs):
            order = backends[:]
            random.shuffle(order)
            for backend in order:
                for workload, (code, expected) in workloads(backend).items():
                    samples[(backend.name, workload)].append(await timed(backend, code, expected))
        rates, cpu = {}, {}
        throughput_jobs = 6 if smoke else jobs
        for backend in backends:
            if backend.name.startswith(("AutoGen", "autorust bwrap, warm")) or (
                backend.name == LLM_SANDBOX  # the clean peer only: it opens its own sessions
            ):
                code, expected = WORKLOADS["print(1)"]
                for concurrency in CONCURRENCY:
                    if backend.prepare is not None:
                        await backend.prepare(concurrency)
                    before = meter.seconds()
                    rates[(backend.name, concurrency)] = await throughput(
                        backend, code, expected, throughput_jobs, concurrency
                    )
                    await asyncio.sleep(0.5)  # the last jobs' teardown and replacement starts
                    if before is not None:
                        cpu[(backend.name, concurrency)] = (meter.seconds() - before) / (
                            throughput_jobs
                        )
    await warm.aclose()
    await cold.aclose()
    _report(backends, samples, rates, runs, cpu)
    return 0


def _report(
    backends: list[Backend], samples: dict, rates: dict, runs: int, cpu: dict | None = None
) -> None:
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
            if (name, workload) not in medians:
                cells += f"{'-':>28}"
                continue
            ms = medians[(name, workload)] * 1000
            ratio = f"{medians[(name, workload)] / base[workload]:.2f}x" if base[workload] else "-"
            cells += f"{ms:>18.1f} ms {ratio:>6}"
        print(f"{name:<40}{cells}")
    if rates:
        print("throughput, print(1), back to back (sandbox starts included), jobs/s")
        for (name, concurrency), rate in rates.items():
            ratio = ""
            if (BASELINE, concurrency) in rates:
                ratio = f"{rate / rates[(BASELINE, concurrency)]:.2f}x"
            own = (cpu or {}).get((name, concurrency))
            cost = f"  CPU {own * 1000:6.1f} ms/job" if own is not None else ""
            if own is not None and (cpu or {}).get((BASELINE, concurrency)):
                cost += f" {own / cpu[(BASELINE, concurrency)]:.2f}x"
            print(f"{name:<40}{concurrency:>3} at a time {rate:>10.1f} jobs/s {ratio:>6}{cost}")
    warm = "autorust bwrap, warm pool"
    if reference == BASELINE and (warm, "print(1)") in medians:
        for workload, goal in GOALS.items():
            ratio = medians[(warm, workload)] / base[workload]
            verdict = "met" if ratio <= goal else "NOT met"
            print(f"goal warm pool <= {goal}x AutoGen for {workload}: {ratio:.2f}x ({verdict})")
        for concurrency in CONCURRENCY:
            if (BASELINE, concurrency) in rates and (warm, concurrency) in rates:
                ratio = rates[(warm, concurrency)] / rates[(BASELINE, concurrency)]
                verdict = "met" if ratio >= 1.0 else "NOT met"
                print(f"goal warm pool throughput >= 1.0x AutoGen, {concurrency} at a time: "
                      f"{ratio:.2f}x ({verdict})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="2 runs: checks every backend works")
    parser.add_argument("--jobs", type=int, default=200, help="jobs per throughput run")
    parser.add_argument(
        "--autogen-python", default=str(PEER_PYTHON),
        help="interpreter of a clean venv with autogen-ext (default: .venv-peers/autogen)",
    )  # fmt: skip
    parser.add_argument(
        "--llm-sandbox-python", default=str(LLM_SANDBOX_PYTHON),
        help="interpreter of a clean venv with llm-sandbox (default: .venv-peers/llm-sandbox)",
    )  # fmt: skip
    args = parser.parse_args()
    sys.exit(asyncio.run(main(2 if args.smoke else args.runs, args.smoke, args.autogen_python,
                              args.jobs, args.llm_sandbox_python)))  # fmt: skip
