"""autorust against a real OpenAI-compatible server: llama-cpp-python 0.3.36 with SmolLM2-135M.

The CLI batch runs as a user would run it (coding and checker on the real model, vision
OCR-only), through a recording proxy that keeps what the server answered. A 135M model writes
mostly useless code: what is checked is that nothing breaks and nothing is misreported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState
from autorust.llm.errors import ModelCallError
from autorust.llm.models import endpoint_for, make_chat_model
from autorust.llm.strategies import Strategy
from autorust.llm.strategy_memory import FILE_NAME, StrategyMemory, endpoint_key
from autorust.llm.structured import invoke_structured
from autorust.runtime.runner import compile_graph, state_of
from autorust.storage.checkpoints import open_checkpointer
from tests.support.model_server import (
    ModelServer,
    RecordingProxy,
    start_model_server,
    stop_model_server,
)

pytestmark = pytest.mark.model_server


class Colour(BaseModel):
    colour: str


ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-REAL-SERVER-5e1f7a"
MODEL = "smollm2"
IMAGES = ("sum_even", "palindrome")
TERMINAL = {"passed", "failed", "unverified", "error"}


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    server = start_model_server(tmp_path_factory.mktemp("model-server") / "server.log")
    try:
        yield server
    finally:
        stop_model_server(server)


def has_evidence(state: RunState) -> bool:
    """A pass rests on the last attempt's execution: tests that ran and all passed, or a figure
    that passed render-and-compare."""
    if not state.attempts:
        return False
    last = state.attempts[-1]
    if last.verdict.figure is not None:
        return last.verdict.hard_evidence_ok and last.verdict.figure.score > 0
    tests = last.execution.tests
    return len(tests) >= 1 and all(t.passed for t in tests)


async def load_states(home: Path) -> dict[str, RunState]:
    async with open_checkpointer(home / "checkpoints.sqlite") as saver:
        graph = compile_graph(saver)
        ids = {t.config["configurable"]["thread_id"] async for t in saver.alist(None)}
        states = {tid: await state_of(graph, tid) for tid in ids}
    return {Path(s.image_path).stem: s for s in states.values() if s is not None}


def test_cli_batch_against_llama_cpp_python(model_server: ModelServer, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in IMAGES:
        shutil.copy(ROOT / "examples" / "images" / f"{name}.png", images)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    with RecordingProxy(model_server.base_url) as proxy:
        env |= {  # the README's "llama-cpp-python" example, through the recording proxy
            "AUTORUST_CODING__BASE_URL": proxy.base_url,
            "AUTORUST_CODING__MODEL": MODEL,
            "AUTORUST_CHECKER__BASE_URL": proxy.base_url,
            "AUTORUST_CHECKER__MODEL": MODEL,
            "AUTORUST_DEFAULT__MAX_TOKENS": "200",
            # a 135M model on a shared 2-core machine: prompts of ~1,000 tokens take a while
            "AUTORUST_DEFAULT__TIMEOUT_S": "300",
            "AUTORUST_DEFAULT__CALL_BUDGET_S": "600",
            "AUTORUST_MAX_REGENERATIONS": "1",
            "OPENAI_API_KEY": KEY,
            "COLUMNS": "200",
        }
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "autorust.cli.main", "run", str(images),
             "--out", str(tmp_path / "out"), "--output", "jsonl", "--max-iterations", "1",
             "--max-in-flight", "1"],  # the server answers one request at a time anyway
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        served = proxy.usage()
        exchanges = list(proxy.exchanges)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    print(f"batch of {len(IMAGES)} images on the real model: {elapsed:.1f}s, "
          f"{len(exchanges)} requests, usage {served}")  # fmt: skip

    # --output jsonl: JSON lines only, one finished event per image
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    finished = {Path(e["image"]).stem: e for e in events if e["event"] == "item_finished"}
    assert set(finished) == set(IMAGES)

    # every item ends in a terminal status with a coherent state; none passes without evidence
    states = asyncio.run(load_states(tmp_path / ".autorust"))
    assert set(states) == set(IMAGES)
    for name, state in states.items():
        result = json.loads(next((tmp_path / "out").glob(f"{name}-*/result.json")).read_text())
        assert (
            state.status in TERMINAL
            and result["status"] == state.status == finished[name]["status"]
        )
        assert state.prompt_versions.get("vision") == "ocr" and state.spec is not None
        assert {c.agent for c in state.model_calls} <= {"coding", "checker"}
        if state.status == "error":
            assert state.error and state.error.startswith(
                (f"coding agent (model {MODEL} at {proxy.host})",
                 f"checker agent (model {MODEL} at {proxy.host})")
            ), state.error  # fmt: skip
        else:
            assert len(state.attempts) == result["iterations"] >= 1
            assert state.attempts[-1].verdict.passed is (state.status == "passed")
        if state.status == "passed":
            assert has_evidence(state), f"{name} passed without executed evidence"

    # auto-detection: json_schema is rejected (HTTP 500) and json_object is used instead; it is
    # remembered only once one of its replies validated (a coding reply did: an attempt exists),
    # after which calls no longer try json_schema first
    assert all(e.status == 500 for e in exchanges if e.strategy == "json_schema")
    assert any(e.strategy == "json_object" and e.status == 200 for e in exchanges)
    schema_tries = sum(e.strategy == "json_schema" for e in exchanges)
    object_tries = sum(e.strategy == "json_object" for e in exchanges)
    memory = tmp_path / ".autorust" / FILE_NAME
    if any(state.attempts for state in states.values()):
        remembered = json.loads(memory.read_text())
        assert remembered == {endpoint_key(proxy.base_url, MODEL): "json_object"}
        assert 1 <= schema_tries < object_tries
    else:  # no reply validated: nothing is remembered, every call starts over
        assert not memory.exists() and 1 <= schema_tries <= object_tries
    calls = [c for s in states.values() for c in s.model_calls]
    assert calls and all(c.structured_output == "json_object" for c in calls)

    # the usage recorded equals what the server reported, reply by reply
    recorded = (sum(c.input_tokens for c in calls), sum(c.output_tokens for c in calls))
    assert recorded == served
    summary = json.loads((tmp_path / "out" / "latest" / "summary.json").read_text())
    total = summary["usage"]["total"]
    assert (total["input_tokens"], total["output_tokens"]) == served

    # the key was sent, and is in no file the run wrote (SQLite included) nor in its output
    assert all(e.authorization == f"Bearer {KEY}" for e in exchanges)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != images]
    assert any(p.name == "checkpoints.sqlite" for p in written)
    assert [str(p) for p in written if KEY.encode() in p.read_bytes()] == []
    assert KEY not in proc.stdout + proc.stderr


async def test_the_remembered_strategy_is_used_first_on_the_real_server(
    model_server: ModelServer, tmp_path: Path
) -> None:
    with RecordingProxy(model_server.base_url) as proxy:
        config = AutorustConfig(
            coding={"model": MODEL, "base_url": proxy.base_url, "max_tokens": 256},
            home=str(tmp_path),
        )
        model = make_chat_model("coding", config, loop=asyncio.get_running_loop())

        async def ask() -> list[str]:
            before = len(proxy.exchanges)
            # a strategy is remembered once a reply validated: a schema the 135M model
            # fills under json_object's grammar (a program would often fail to parse)
            with contextlib.suppress(ModelCallError):
                await invoke_structured(
                    model, [HumanMessage("Name one colour, as JSON.")], Colour,
                    agent="coding", iteration=0, metadata={}, max_regenerations=0,
                    endpoint=endpoint_for("coding", config), memory=StrategyMemory(tmp_path),
                )  # fmt: skip
            return [e.strategy for e in proxy.exchanges[before:]]

        first = await ask()
        second = await ask()
    assert first[:2] == ["json_schema", "json_object"]
    assert second and set(second) == {"json_object"}
    assert StrategyMemory(tmp_path).get(proxy.base_url, MODEL) is Strategy.JSON_OBJECT
