"""What endpoint trouble costs: each case's batch time against a healthy endpoint's, same run.

Over loopback HTTP with the real client and graph (emulated servers, tests/support/fake_openai);
the sandbox is replaced by one that answers at once (tests/support/instant_executor.py):

- ``fallback``: a llama-cpp-python-like endpoint (json_schema is an HTTP 500) with ``auto``:
  the strategy is found once and remembered. 3f763c6: every item ended ``error`` after three
  node attempts (~12 s per item).
- ``deterministic``: coding gets HTTP 400 on every request: time until every item has ended
  (no retries may be spent on it).
- ``hanging``: coding's endpoint never answers: every call must end within its budget
  (``call_budget_s``; 3f763c6 could wait ~30 minutes with the defaults).
- usage: recorded tokens / tokens the server billed, with 30 % injected faults (must be 1.0).

    .venv/bin/python bench/bench_model_errors.py [items]   # default 8
    .venv/bin/python bench/bench_model_errors.py --smoke   # 2 items, 1 s budget
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autorust.graph.context import AutorustConfig  # noqa: E402
from autorust.reporting.usage import summarize_usage  # noqa: E402
from autorust.runtime.batch import BatchRun  # noqa: E402
from autorust.storage.checkpoints import open_checkpointer  # noqa: E402
from tests.support.bad_images import copy_examples  # noqa: E402
from tests.support.fake_openai import (  # noqa: E402
    FakeOpenAI,
    Fault,
    FaultPlan,
    Reply,
    replies_by_schema,
    schema_name,
)
from tests.support.instant_executor import InstantExecutor  # noqa: E402

REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
SCRIPT = replies_by_schema(REPLIES)


def coding_gets(reply: Reply):
    return lambda request: reply if schema_name(request) == "CodeArtifact" else SCRIPT(request)


async def batch(
    responder: Any, profile: str, images: list[Path], home: Path, **model: Any
) -> tuple[float, list[Any], dict[str, int]]:
    with FakeOpenAI(responder, profile=profile) as server:
        config = AutorustConfig(
            default={"model": "m", "base_url": server.base_url, **model},
            home=str(home),
            max_iterations=1,
        )
        started = time.monotonic()
        async with open_checkpointer(config.checkpoint_path) as saver:
            # the sandbox answers at once: its start-up (which varies with the machine's load by
            # more than the model path costs) is no part of what endpoint trouble costs
            results = await BatchRun(images, config, saver, executor=InstantExecutor()).run()
        return time.monotonic() - started, results, dict(server.usage)


async def main(items: int, budget_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = [p for p in copy_examples(root / "images", items * 4) if "sum_even" in p.name]
        images = images[:items]
        await batch(SCRIPT, "openai", images, root / "warm-up")  # imports, sandbox, caches
        healthy_s, results, _ = await batch(SCRIPT, "openai", images, root / "a")
        assert all(r.status == "passed" for r in results), [r.error for r in results]
        fallback_s, results, _ = await batch(SCRIPT, "llama-cpp-python", images, root / "b")
        assert all(r.status == "passed" for r in results), [r.error for r in results]
        bad_s, results, _ = await batch(coding_gets(Fault(400)), "openai", images, root / "c")
        assert all(r.status == "error" for r in results)
        hang = coding_gets(Fault(503, delay_s=budget_s * 20))
        hang_s, results, _ = await batch(
            hang, "openai", images, root / "d", call_budget_s=budget_s, timeout_s=3600
        )
        assert all(r.status == "error" for r in results)
        hung_call_s = max(
            c.latency_s
            for r in results
            if r.state
            for c in r.state.model_calls
            if c.agent == "coding"
        )
        plan = FaultPlan(SCRIPT, rate=0.3, seed=3, slow_s=0.6)
        _, results, served = await batch(
            plan, "openai", images, root / "e", timeout_s=0.4, max_retries=8
        )
        usage = summarize_usage(c for r in results if r.state for c in r.state.model_calls).total
    numbers = {
        "healthy batch s": healthy_s,
        "fallback / healthy": fallback_s / healthy_s,
        "deterministic 400 / healthy": bad_s / healthy_s,
        "hung call / call budget": hung_call_s / budget_s,
        "hanging batch / healthy + budget": hang_s / (healthy_s + budget_s),
        "recorded / billed input tokens": usage.input_tokens / max(1, served["prompt_tokens"]),
        "recorded / billed output tokens": usage.output_tokens
        / max(1, served["completion_tokens"]),
    }
    for name, value in numbers.items():
        print(f"{name:34s} {value:8.3f}")
    return numbers


if __name__ == "__main__":
    smoke = "--smoke" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(2 if smoke else int(args[0]) if args else 8, 1.0 if smoke else 5.0))
