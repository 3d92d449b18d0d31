"""Structured output against emulated servers (OpenAI, Azure, vLLM, Ollama, llama-cpp-python,
llama-server, a server without JSON mode or tools): ``auto`` finds the strategy each accepts at
once, remembers it per endpoint + model, and a fixed strategy is honoured or fails clearly."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.graph.state import CodeArtifact
from autorust.llm.errors import ModelRequestError
from autorust.llm.strategy_memory import FILE_NAME, StrategyMemory
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.coding_call import ask_coder
from tests.support.fake_openai import FakeOpenAI, replies_by_schema, strategy_of

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
CODE = {"source": "def f():\n    return 1\n", "notes": ""}


def config_for(server: FakeOpenAI, home: Path, **coding: Any) -> AutorustConfig:
    return AutorustConfig(
        default={"model": "served-model", "base_url": server.base_url},
        coding=coding,
        home=str(home),
    )


async def ask(config: AutorustConfig) -> tuple[CodeArtifact, Any]:
    return await ask_coder(config, StrategyMemory(config.home))


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("openai", "json_schema"),
        ("azure-openai", "json_schema"),
        ("azure-openai-2024-06-01", "json_object"),
        ("vllm", "json_schema"),
        ("ollama", "json_schema"),
        ("llama-cpp-python", "json_object"),
        ("llama-server", "json_schema"),
        ("no-tools", "prompt"),
    ],
)
async def test_auto_finds_and_remembers_the_strategy_each_server_accepts(
    profile: str, expected: str, tmp_path: Path
) -> None:
    with FakeOpenAI(lambda request: CODE, profile=profile) as server:
        config = config_for(server, tmp_path)
        code, call = await ask(config)
        first = server.strategies()
        again, _ = await ask(config)  # the next call starts with the remembered strategy
        second = server.strategies()[len(first) :]

    assert code.source == CODE["source"] == again.source
    assert first[-1] == expected and second == [expected]
    assert call.structured_output == expected and call.retries == 0
    assert first == ["json_schema", "json_object", "tools", "prompt"][: len(first)]
    assert set(server.statuses[: len(first) - 1]) <= {400, 422, 500}  # rejections, not retried
    assert (call.input_tokens, call.output_tokens) != (0, 0)
    remembered = json.loads((tmp_path / FILE_NAME).read_text())
    assert remembered == {f"{server.base_url} served-model": expected}
    if profile.startswith("azure"):
        assert call.model.startswith("gpt-4o-2024")  # the model Azure reports, not the deployment


async def test_a_fixed_strategy_is_used_as_is(tmp_path: Path) -> None:
    with FakeOpenAI(lambda request: CODE, profile="ollama") as server:
        # Ollama ignores tool_choice: the tool call still comes back and is used
        code, call = await ask(config_for(server, tmp_path, structured_output="tools"))
    assert call.structured_output == "tools"
    assert code.source == CODE["source"] and server.strategies() == ["tools"]
    assert not (tmp_path / FILE_NAME).exists()  # a fixed choice is not "detected"


async def test_a_fixed_strategy_the_server_rejects_fails_at_once_and_clearly(
    tmp_path: Path,
) -> None:
    with FakeOpenAI(lambda request: CODE, profile="llama-cpp-python") as server:
        config = config_for(server, tmp_path, structured_output="json_schema")
        started = time.monotonic()
        with pytest.raises(ModelRequestError) as info:
            await ask(config)
        elapsed = time.monotonic() - started
    message = str(info.value)
    assert message.startswith(f"coding agent (model served-model at {server.host}):")
    assert "rejected structured output 'json_schema' (HTTP 500" in message
    assert "AUTORUST_CODING__STRUCTURED_OUTPUT" in message
    assert "File" not in message and "app.py" not in message  # no traceback text
    assert len(server.requests) == 1 and elapsed < 2  # not retried


async def test_observed_llama_cpp_python_batch_passes_without_wasted_retries(
    tmp_path: Path,
) -> None:
    """Observed on 3f763c6: 4/4 items ended `error` against llama-cpp-python (json_schema is a
    500 there) after three node attempts each. Now the batch falls back to json_object."""
    images = copy_examples(tmp_path / "images", 4)
    with FakeOpenAI(replies_by_schema(REPLIES), profile="llama-cpp-python") as server:
        config = AutorustConfig(
            default={"model": "smollm2", "base_url": server.base_url}, home=str(tmp_path / "h")
        )
        started = time.monotonic()
        async with open_checkpointer(config.checkpoint_path) as saver:
            results = await BatchRun(images, config, saver).run()
        elapsed = time.monotonic() - started
        strategies = server.strategies()
    assert [r.status for r in results] == ["passed"] * 4, [r.error for r in results]
    # each json_schema request is a first call racing the others; none is ever retried
    assert 1 <= strategies.count("json_schema") <= len(images)
    assert server.statuses.count(500) == strategies.count("json_schema")
    assert strategies[-1] == "json_object"
    assert elapsed < 20
    assert StrategyMemory(config.home).get(server.base_url, "smollm2").value == "json_object"


async def test_agents_on_different_servers_each_get_their_own_strategy(tmp_path: Path) -> None:
    image = ROOT / "examples/images/sum_even.png"
    responder = replies_by_schema(REPLIES)
    with (
        FakeOpenAI(responder, profile="llama-cpp-python") as coder,
        FakeOpenAI(responder, profile="vllm") as rest,
    ):
        config = AutorustConfig(
            default={"model": "m", "base_url": rest.base_url},
            coding={"base_url": coder.base_url},
            home=str(tmp_path / "h"),
        )
        async with open_checkpointer(config.checkpoint_path) as saver:
            (result,) = await BatchRun([image], config, saver).run()
    assert result.status == "passed", result.error
    by_agent = {c.agent: c.structured_output for c in result.state.model_calls}  # type: ignore[union-attr]
    assert by_agent == {"vision": "json_schema", "coding": "json_object", "checker": "json_schema"}
    assert all(strategy_of(r) == "json_schema" for r in rest.requests)
