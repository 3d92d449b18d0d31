"""Every benchmark runs in its smoke mode, so none can rot unnoticed again.

Observed on 3f763c6: ``bench/bench_batch.py`` no longer ran (``AssertionError: bench items
must pass``) and nothing noticed. The numbers themselves are printed by the full runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))
EXPECTED = {
    "bench_batch.py": ["adaptive / its bound", "peak RSS"],
    "bench_cli_start.py": ["autorust --help", "autorust runs list"],
    "bench_harness_preload.py": [
        "figure / new / preload",
        "numpy function, 5 tests / new / preload",
    ],
    "bench_cost.py": [
        "input tokens per item current / baseline",
        "same replies and verdicts: True",
    ],
    "bench_scale.py": ["CPU per image", "rerun per image", "peak memory", "printed 0 chars"],
    "bench_step_overhead.py": [
        "autorust / bare 5-node LangGraph per step",
        "LangGraph on the same graph and state",
    ],
}
# benches whose smoke mode has a test module of its own, which checks their numbers too
OWN_TESTS = {
    "bench_figures.py": "test_figure_bench.py",
    "bench_fork_start.py": "test_sandbox_bench.py",
    "bench_model_errors.py": "test_model_bench.py",
    "bench_sandbox.py": "test_sandbox_bench.py",
}


def test_every_bench_is_covered() -> None:
    assert set(BENCHES) == set(EXPECTED) | set(OWN_TESTS), (
        "add the new bench to EXPECTED with its key lines (or give it a test of its own)"
    )
    assert all((Path(__file__).parent / test).is_file() for test in OWN_TESTS.values())


@pytest.mark.bwrap
@pytest.mark.parametrize("bench", sorted(EXPECTED))
def test_bench_smoke_mode_runs(bench: str) -> None:
    proc = subprocess.run(
        [sys.executable, f"bench/{bench}", "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for line in EXPECTED[bench]:
        assert line in proc.stdout, proc.stdout[-3000:]
