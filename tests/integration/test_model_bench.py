"""The model-error benchmark's smoke mode runs and its numbers hold."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_model_error_benchmark_smoke() -> None:
    spec = importlib.util.spec_from_file_location("bench_model_errors", ROOT / "bench" /
                                                  "bench_model_errors.py")  # fmt: skip
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    numbers = await bench.main(items=2, budget_s=1.0)
    assert numbers["fallback / healthy"] < 2.5  # the rejected strategy costs one request
    assert numbers["hung call / call budget"] < 1.3
    assert numbers["recorded / billed input tokens"] == 1.0
    assert numbers["recorded / billed output tokens"] == 1.0
