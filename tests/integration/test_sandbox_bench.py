"""bench/bench_sandbox.py --smoke: every backend it finds runs and passes its result checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.bwrap, pytest.mark.cloud_function]
ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_backend_and_prints_ratios() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_sandbox.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for row in (
        "bare python -I -S",
        "autorust bwrap, cold start",
        "autorust bwrap, warm pool",
        "cloud function (loopback)",
        "throughput, print(1), back to back",
    ):
        assert row in done.stdout, done.stdout
    assert "x = ratio to" in done.stdout


def test_fork_start_bench_prints_both_starts() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_fork_start.py", "--starts", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bwrap + python -S -c pass" in done.stdout
    assert "fork + unshare + tmpfs/proc mounts" in done.stdout
    assert done.stdout.count("ms CPU per start") == 2


async def test_a_backend_whose_jobs_fail_can_never_look_fast() -> None:
    """On 3f763c6 the bench timed whatever came back: jobs that all exited 127 read as 9 ms."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_sandbox", ROOT / "bench/bench_sandbox.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_sandbox"] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)

    async def hidden_interpreter(code: str) -> tuple[int | None, str]:
        return 127, ""

    with pytest.raises(bench.BrokenBackend, match="exit 127"):
        await bench.timed(bench.Backend("broken", hidden_interpreter), "print(1)", "1")
