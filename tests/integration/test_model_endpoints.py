"""Conformance emulators for the endpoints people use (issue 23): each fake-server profile
reproduces its provider's documented behaviour (the reference is at the profile in
tests/support/fake_openai.py), and the model layer works with it unchanged."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.llm.errors import (
    InvalidModelOutputError,
    ModelContextLengthError,
    ModelQuotaError,
)
from autorust.llm.strategy_memory import FILE_NAME, StrategyMemory
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.coding_call import ask_coder
from tests.support.fake_openai import (
    Completion,
    FakeOpenAI,
    Fault,
    Reply,
    replies_by_schema,
    roles_alternate,
    schema_in_messages,
    strategy_of,
)

ROOT = Path(__file__).resolve().parents[2]
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
CODE = {"source": "def f():\n    return 1\n", "notes": ""}
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "param": None, "code": "insufficient_quota",
    }
}  # fmt: skip


def config_for(fake: FakeOpenAI, home: Path, /, **coding: Any) -> AutorustConfig:
    return AutorustConfig(
        default={"model": "served-model", "base_url": fake.base_url, "max_retries": 6},
        coding=coding,
        home=str(home),
    )


def sequence(*replies: Reply):
    queue = iter(replies)
    return lambda request: next(queue, CODE)


def texts(request: dict[str, Any]) -> str:
    return json.dumps(request["messages"])


# ---- case 2: Anthropic ignores response_format -------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "settings"),
    [
        ("anthropic", {"MODEL": "claude-sonnet-4-5"}),
        # o3 with a temperature and a budget it spends thinking at first
        ("openai-reasoning", {"MODEL": "o3", "SERVER": "openai", "TEMPERATURE": "0.2",
                              "MAX_TOKENS": "1000"}),
        ("vllm-gemma", {"MODEL": "google/gemma-3-27b-it"}),
        ("ollama", {"MODEL": "qwen2.5-coder:7b", "SERVER": "ollama", "MAX_TOKENS": "300"}),
        ("llama-cpp-python", {"MODEL": "smollm2"}),
        ("azure-openai", {"MODEL": "prod-gpt4o", "SERVER": "azure"}),
    ],
)  # fmt: skip
def test_autorust_run_with_auto_ends_as_designed_on_each_emulator(
    profile: str, settings: dict[str, str], tmp_path: Path
) -> None:
    """Observed on 38a965c with the Anthropic emulator: every item ended "no valid Spec after
    3 replies" - json_schema was remembered after the first 200 and the schema was never in
    the messages."""
    images = copy_examples(tmp_path / "images", 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    with FakeOpenAI(replies_by_schema(REPLIES), profile=profile) as server:
        env |= {
            "AUTORUST_DEFAULT__BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test-0123456789",
        } | {f"AUTORUST_DEFAULT__{name}": value for name, value in settings.items()}
        proc = subprocess.run(
            [sys.executable, "-m", "autorust.cli.main", "run", str(tmp_path / "images"),
             "--out", str(tmp_path / "out"), "--output", "jsonl"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        requests = list(server.requests)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    finished = [e for e in events if e["event"] == "item_finished"]
    assert len(finished) == len(images), proc.stderr[-2000:]
    assert {e["status"] for e in finished} == {"passed"}, proc.stderr[-2000:]
    assert all(schema_in_messages(r) and roles_alternate(r) for r in requests)
    remembered = json.loads((tmp_path / ".autorust" / FILE_NAME).read_text())
    expected = "json_object" if profile == "llama-cpp-python" else "json_schema"
    assert set(remembered.values()) == {expected}  # a strategy whose reply validated


async def test_a_strategy_is_remembered_only_after_a_reply_validated(tmp_path: Path) -> None:
    with FakeOpenAI(lambda request: "Sure, here is my plan in prose.") as server:
        config = config_for(server, tmp_path)
        with pytest.raises(InvalidModelOutputError):
            await ask_coder(config, StrategyMemory(config.home))
    assert not (tmp_path / FILE_NAME).exists()  # 38a965c remembered json_schema here


# ---- case 7: strict chat templates -------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["json_schema", "json_object", "tools", "prompt"])
async def test_reasks_alternate_roles_and_restate_the_schema(strategy: str, tmp_path: Path) -> None:
    """Observed on 38a965c: json_object/prompt put a system message after the user turn and
    every re-ask sent two user turns: 400 "roles must alternate" from vLLM with Gemma 3."""
    with FakeOpenAI(sequence({"unexpected": "shape"}), profile="vllm-gemma") as server:
        code, call = await ask_coder(config_for(server, tmp_path, structured_output=strategy))
        requests = list(server.requests)
    assert code.source == CODE["source"] and len(call.regenerations) == 1
    assert set(server.statuses) == {200} and len(requests) == 2
    assert all(roles_alternate(r) for r in requests)
    reask = requests[1]["messages"]
    assert [m["role"] for m in reask] == ["system", "user", "assistant", "user"]
    assert "CodeArtifact = {" in reask[-1]["content"] and "unexpected" in reask[2]["content"]


# ---- case 6: refusals, content null, finish_reason length --------------------------------------


async def test_a_refusal_is_reasked_once_naming_it(tmp_path: Path) -> None:
    refusal = Completion(None, refusal="I can't help with that request.")
    with FakeOpenAI(sequence(refusal)) as server:
        code, call = await ask_coder(config_for(server, tmp_path))
        requests = list(server.requests)
    assert code.source == CODE["source"] and call.retries == 0 and len(requests) == 2
    assert "I can't help with that request." in texts(requests[1])


async def test_a_second_refusal_ends_the_call_saying_so(tmp_path: Path) -> None:
    """Observed on 38a965c: 7 identical billed requests, then "a rerun retries this item"."""
    refusal = Completion(None, refusal="I can't help with that request.")
    with FakeOpenAI(lambda request: refusal) as server:
        with pytest.raises(InvalidModelOutputError) as info:
            await ask_coder(config_for(server, tmp_path))
        requests = len(server.requests)
    assert requests == 2
    assert "refused twice" in str(info.value) and "can't help" in str(info.value)
    assert not info.value.transient


async def test_a_reply_cut_at_the_limit_twice_ends_naming_the_setting(tmp_path: Path) -> None:
    cut = Completion(None, "length")
    with FakeOpenAI(lambda request: cut, profile="ollama") as server:
        with pytest.raises(InvalidModelOutputError) as info:
            await ask_coder(config_for(server, tmp_path, max_tokens=400))
        caps = list(server.caps)
    assert caps == [400, 800]  # the re-ask had twice the budget
    assert "cut off at the token limit twice" in str(info.value)
    assert "content null" in str(info.value)
    assert "AUTORUST_CODING__MAX_TOKENS" in str(info.value)


# ---- cases 4 and 5: the reply cap each server reads; reasoning models --------------------------


@pytest.mark.parametrize(
    ("profile", "settings", "field"),
    [
        ("ollama", {}, "max_tokens"),
        ("llama-cpp-python", {}, "max_tokens"),
        ("openai", {"server": "openai"}, "max_completion_tokens"),
        ("ollama", {"token_param": "max_completion_tokens"}, "max_completion_tokens"),
    ],
)
async def test_the_reply_cap_goes_where_the_server_reads_it(
    profile: str, settings: dict[str, Any], field: str, tmp_path: Path
) -> None:
    """Observed on 38a965c: max_completion_tokens always, which Ollama and llama-cpp-python
    ignore (README's MAX_TOKENS=300 example did nothing there)."""
    with FakeOpenAI(lambda request: CODE, profile=profile) as server:
        await ask_coder(config_for(server, tmp_path, max_tokens=300, **settings))
        request = server.requests[-1]
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert request[field] == 300 and not other & set(request)


@pytest.mark.parametrize(
    "settings",
    [
        {"model": "o3"},  # the family read from the name
        {"model": "prod-reasoner", "model_family": "reasoning", "server": "azure"},
        {"model": "prod-reasoner", "server": "azure"},  # hidden: the 400 is handled once
    ],
    ids=["o3", "azure-deployment-named-reasoning", "azure-deployment-unnamed"],
)
async def test_reasoning_models_get_no_temperature_and_a_larger_budget_when_cut(
    settings: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Observed on 38a965c: o3 with a temperature: 400 and the item ended at the first call;
    a budget spent thinking (content null, finish_reason length) was retried 7 times."""
    with FakeOpenAI(lambda request: CODE, profile="openai-reasoning") as server:
        config = config_for(
            server, tmp_path, temperature=0.2, max_tokens=1000, reasoning_effort="low",
            **({"server": "openai"} | settings),
        )  # fmt: skip
        with caplog.at_level(logging.WARNING, logger="autorust.model"):
            code, _call = await ask_coder(config)
        requests = list(server.requests)
    assert code.source == CODE["source"]
    ok = [r for r in requests if "temperature" not in r]
    assert [r["max_completion_tokens"] for r in ok] == [1000, 2000]
    assert all(r["reasoning_effort"] == "low" for r in requests)
    assert all("max_tokens" not in r for r in requests)
    assert "temperature" in caplog.text  # the dropped temperature is noted
    if settings.get("model_family") or settings["model"] == "o3":
        assert len(requests) == 2  # no request with a temperature at all


# ---- case 9: billing, credentials and context length -------------------------------------------


async def test_insufficient_quota_is_not_retried(tmp_path: Path) -> None:
    """Observed on 38a965c: retried 6 times as a rate limit."""
    with FakeOpenAI(lambda request: Fault(429, body=QUOTA)) as server:
        with pytest.raises(ModelQuotaError) as info:
            await ask_coder(config_for(server, tmp_path))
        requests = len(server.requests)
    assert requests == 1 and "out of quota" in str(info.value)


async def test_a_context_length_error_is_named_not_read_as_tools_rejected(tmp_path: Path) -> None:
    """Observed on 38a965c: "... reduce the length of the messages or functions" was read as
    "this server rejects tools"."""
    too_long = Fault(400, body={"error": {"message": (
        "This model's maximum context length is 4096 tokens. However, your messages resulted "
        "in 5120 tokens. Please reduce the length of the messages or functions."),
        "type": "invalid_request_error", "code": "context_length_exceeded"}})  # fmt: skip
    with FakeOpenAI(lambda request: too_long) as server:
        with pytest.raises(ModelContextLengthError) as info:
            await ask_coder(config_for(server, tmp_path, structured_output="auto"))
        strategies = server.strategies()
    assert strategies == ["json_schema"] and "context window" in str(info.value)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault(429, body=QUOTA), "quota"),
        (Fault(401, body={"error": {"message": "Incorrect API key provided"}}), "credentials"),
    ],
    ids=["insufficient_quota", "401"],
)
async def test_a_billing_or_credentials_error_stops_the_batch_once(
    fault: Fault, words: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images = copy_examples(tmp_path / "images", 6)
    with FakeOpenAI(lambda request: fault) as server:
        config = AutorustConfig(
            default={"model": "m", "base_url": server.base_url}, home=str(tmp_path / "home"),
            ocr="off",
        )  # fmt: skip
        with caplog.at_level(logging.ERROR, logger="autorust.batch"):
            async with open_checkpointer(config.checkpoint_path) as saver:
                results = await BatchRun(images, config, saver).run()
        requests = len(server.requests)
    assert requests < len(images)  # not one failing request per item
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].getMessage().startswith("batch stopped: ")
    assert all(r.status == "error" for r in results)
    assert all(words in (r.error or "") for r in results)


# ---- case 8: json_object on OpenAI/Azure -------------------------------------------------------


@pytest.mark.parametrize("profile", ["openai", "azure-openai"])
async def test_json_mode_sends_no_unknown_parameter_and_the_schema_once(
    profile: str, tmp_path: Path
) -> None:
    """Observed on 38a965c: response_format.schema (a 400 "Unknown parameter" on OpenAI) and
    the full schema a second time in the prompt."""
    with FakeOpenAI(lambda request: CODE, profile=profile) as server:
        settings = {"structured_output": "json_object", "server": "openai"}
        await ask_coder(config_for(server, tmp_path, **settings))
        request = server.requests[-1]
    assert request["response_format"] == {"type": "json_object"}
    assert texts(request).count("CodeArtifact = {") == 1 and '"properties"' not in texts(request)


async def test_openai_json_schema_is_strict(tmp_path: Path) -> None:
    with FakeOpenAI(lambda request: CODE, profile="openai") as server:
        await ask_coder(config_for(server, tmp_path, server="openai"))
        sent = server.requests[-1]["response_format"]["json_schema"]
    assert sent["strict"] is True and sent["schema"]["additionalProperties"] is False


# ---- case 10 and the reply cap -----------------------------------------------------------------


async def test_raw_newlines_inside_strings_are_accepted(tmp_path: Path) -> None:
    """llama-cpp-python's JSON grammar lets them through (observed: 3 replies, then error)."""
    raw = '{"source": "def f():\n    return 1\n", "notes": ""}'
    with FakeOpenAI(lambda request: raw, profile="llama-cpp-python") as server:
        code, call = await ask_coder(config_for(server, tmp_path))
    assert code.source == CODE["source"] and call.regenerations == []


async def test_a_reply_over_the_agents_size_cap_is_refused(tmp_path: Path) -> None:
    """Issue 22 case 7: a 50 MB coding reply was accepted and executed."""
    huge = {"source": "x = 1\n" * 50_000, "notes": ""}
    with FakeOpenAI(lambda request: huge) as server:
        with pytest.raises(InvalidModelOutputError) as info:
            await ask_coder(config_for(server, tmp_path, max_reply_chars=100_000))
        requests = len(server.requests)
    assert requests == 1
    assert "coding agent's reply is 350,0" in str(info.value)
    assert "AUTORUST_CODING__MAX_REPLY_CHARS" in str(info.value)


def test_the_strategy_of_each_request_is_recorded(tmp_path: Path) -> None:
    assert strategy_of({"tools": [{}]}) == "tools"


# ---- case 11: Azure classic deployments, api-version, api-key or Entra ID ----------------------


def azure_config(fake: FakeOpenAI, home: Path, **settings: Any) -> AutorustConfig:
    root = fake.base_url.removesuffix("/v1")
    return AutorustConfig(
        default={"model": "gpt-4o", "base_url": root, "api_version": "2024-10-21",
                 "azure_deployment": "prod-gpt4o", **settings},
        home=str(home),
    )  # fmt: skip


async def test_azure_classic_deployment_with_an_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed on 38a965c: only the v1 endpoint with a bearer key could be configured."""
    for name in ("OPENAI_API_KEY", "AUTORUST_API_KEY", "AUTORUST_CODING_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-0123456789")
    with FakeOpenAI(lambda request: CODE, profile="azure-openai") as server:
        code, call = await ask_coder(azure_config(server, tmp_path, max_tokens=300))
        path, headers, request = server.paths[-1], server.headers[-1], server.requests[-1]
    assert code.source == CODE["source"]
    assert path == "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
    assert headers["api-key"] == "azure-key-0123456789" and "authorization" not in headers
    assert request["max_completion_tokens"] == 300  # Azure reads it (o-series need it)
    assert request["response_format"]["json_schema"]["strict"] is True
    assert call.model.startswith("gpt-4o-2024")


async def test_azure_with_entra_id_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    class Credential:  # stands in for azure.identity.aio.DefaultAzureCredential
        pass

    def get_bearer_token_provider(credential: Any, scope: str) -> Any:
        assert scope == "https://cognitiveservices.azure.com/.default"

        async def token() -> str:
            return "entra-token-0123456789"

        return token

    aio = types.ModuleType("azure.identity.aio")
    aio.DefaultAzureCredential = Credential  # type: ignore[attr-defined]
    aio.get_bearer_token_provider = get_bearer_token_provider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure", types.ModuleType("azure"))
    monkeypatch.setitem(sys.modules, "azure.identity", types.ModuleType("azure.identity"))
    monkeypatch.setitem(sys.modules, "azure.identity.aio", aio)
    with FakeOpenAI(lambda request: CODE, profile="azure-openai") as server:
        await ask_coder(azure_config(server, tmp_path, azure_auth="entra"))
        headers = server.headers[-1]
    assert headers["authorization"] == "Bearer entra-token-0123456789"
    assert "api-key" not in headers


def test_entra_id_without_azure_identity_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from autorust.llm.models import ModelNotConfiguredError, make_chat_model

    monkeypatch.setitem(sys.modules, "azure.identity.aio", None)  # import fails
    config = AutorustConfig(
        default={"model": "gpt-4o", "base_url": "https://x.openai.azure.com",
                 "api_version": "2024-10-21", "azure_auth": "entra"},
        home=str(tmp_path),
    )  # fmt: skip
    loop = asyncio.new_event_loop()  # a loop of its own: no client cached for it
    try:
        with pytest.raises(ModelNotConfiguredError, match=r"autorust\[azure\]"):
            make_chat_model("coding", config, loop=loop)
    finally:
        loop.close()


async def test_a_rejected_max_tokens_is_resent_as_max_completion_tokens(tmp_path: Path) -> None:
    """An o-series model behind a proxy at a local URL: max_tokens is a 400 there."""
    with FakeOpenAI(lambda request: CODE, profile="openai-reasoning") as server:
        code, _ = await ask_coder(config_for(server, tmp_path, model="o4-mini", max_tokens=4000))
        requests = list(server.requests)
    assert code.source == CODE["source"] and server.statuses == [400, 200]
    assert requests[0]["max_tokens"] == 4000 and "max_tokens" not in requests[1]
    assert requests[1]["max_completion_tokens"] == 4000
