"""bench/bench_figures.py --smoke runs and prints its table (the full corpus runs in the bench)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_prints_the_rates_against_the_goals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("bench_figures", ROOT / "bench/bench_figures.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tally = bench.main(["--smoke", "--charts", "stacked_bars", "--cache", str(tmp_path)])
    out = capsys.readouterr().out
    assert "false-reject rate" in out and "| faithful pass" in out and "wrong data caught" in out
    assert tally["exact"] == (1, 1)
    assert sum(total for _, total in tally.values()) == 12
