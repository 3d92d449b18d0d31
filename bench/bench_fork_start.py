"""What a sandbox made by ``fork`` (no ``exec``) would cost, beside one bwrap start: the
measurement behind docs/sandbox.md's "why the throughput goal is not met" (issue 26).

A fork-made sandbox: an already started interpreter forks, the child makes new mount, pid,
net, ipc and uts namespaces, forks the namespace's first process, which makes its mounts
private and mounts fresh tmpfs on /tmp and /dev/shm and a fresh /proc, then exits. Compared
with ``bwrap ... python -S -c pass`` (today's start before the supervisor's own work). CPU is
read from a cpuacct cgroup holding only this bench and its children (rusage, which misses
some of bwrap's processes, where there is no cgroup v1 cpuacct). Needs root (namespaces,
mounts); the mounts happen in a private mount namespace of its own.

    sudo .venv/bin/python bench/bench_fork_start.py [--starts 100]
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cpu_meter import CpuMeter  # noqa: E402

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_REC, MS_PRIVATE = 16384, 1 << 18
LIBC = ctypes.CDLL(None, use_errno=True)

RUSAGE = "rusage: bwrap's sandboxed processes are NOT all counted"


def cpu_seconds(meter: CpuMeter) -> float:
    """CPU of this bench and everything it started: from ``meter``'s cgroup holding only them;
    without one (cgroup v2 only), rusage of this process and the children it waited for."""
    counted = meter.seconds()
    if counted is not None:
        return counted
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _check(code: int, what: str) -> None:
    if code != 0:
        raise OSError(ctypes.get_errno(), what)


def _namespace_init() -> None:
    _check(LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")
    for target in (b"/tmp", b"/dev/shm"):
        _check(LIBC.mount(b"tmpfs", target, b"tmpfs", 0, b"size=64m"), "tmpfs")
    _check(LIBC.mount(b"proc", b"/proc", b"proc", 0, None), "proc")


def fork_made_sandbox() -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
            _check(LIBC.unshare(flags), "unshare")
            first = os.fork()
            if first == 0:
                try:
                    _namespace_init()
                    os._exit(0)
                except OSError:
                    os._exit(1)
            code = os.waitstatus_to_exitcode(os.waitpid(first, 0)[1])
        finally:
            os._exit(code)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise SystemExit("a fork-made sandbox failed (root and namespaces needed)")


def measure(meter: CpuMeter, label: str, start: object, starts: int) -> None:
    before_cpu, before = cpu_seconds(meter), time.perf_counter()
    for _ in range(starts):
        start()  # type: ignore[operator]
    wall = (time.perf_counter() - before) / starts
    time.sleep(0.5)
    cpu = (cpu_seconds(meter) - before_cpu) / starts
    print(f"{label:<44} {wall * 1000:6.2f} ms wall {cpu * 1000:6.2f} ms CPU per start")


def main(starts: int) -> None:
    from autorust.sandbox.bubblewrap.command import bwrap_prefix
    from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

    meter = CpuMeter("autorust-fork-bench")  # before any child starts: they inherit it
    executor = BubblewrapExecutor(warm_pool_size=0)
    prefix = bwrap_prefix(
        executor.bwrap, as_root=executor.as_root, python=executor.python, roots=executor.roots,
        disk_mb=512, fontlist=executor._fontlist,
    )  # fmt: skip
    command = [*prefix, executor.python, "-S", "-c", "pass"]
    print(f"CPU from {'cpuacct' if meter.usage_file else RUSAGE}")
    run_bwrap = functools.partial(subprocess.run, command, check=True)
    measure(meter, "bwrap + python -S -c pass", run_bwrap, starts)
    measure(meter, "fork + unshare + tmpfs/proc mounts", fork_made_sandbox, starts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=100)
    args = parser.parse_args()
    if os.environ.get("AUTORUST_FORK_BENCH_INNER") != "1":  # mounts only in a namespace of ours
        unshare = shutil.which("unshare") or "unshare"
        env = {**os.environ, "AUTORUST_FORK_BENCH_INNER": "1"}
        inner = [unshare, "-m", "--propagation", "private", sys.executable, *sys.argv]
        raise SystemExit(subprocess.run(inner, env=env).returncode)
    main(args.starts)
