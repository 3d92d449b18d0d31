"""Structured-output strategies: order, rejection recognition, JSON extraction, memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from autorust.graph.state import CodeArtifact
from autorust.llm.strategies import (
    AUTO_ORDER,
    ReplyProblem,
    RequestOptions,
    Strategy,
    candidates,
    extract_json,
    is_rejection,
    prepare,
    reply_json,
)
from autorust.llm.strategy_memory import FILE_NAME, StrategyMemory
from tests.support.fake_openai import LLAMA_CPP_PYTHON_500


def test_auto_tries_every_strategy_from_the_remembered_one() -> None:
    assert candidates("auto", None) == list(AUTO_ORDER)
    assert candidates(None, None)[0] is Strategy.JSON_SCHEMA
    assert candidates("auto", Strategy.TOOLS) == [Strategy.TOOLS, Strategy.PROMPT]
    assert candidates("json_object", Strategy.TOOLS) == [Strategy.JSON_OBJECT]


@pytest.mark.parametrize(
    ("strategy", "status", "body", "expected"),
    [
        (Strategy.JSON_SCHEMA, 500, LLAMA_CPP_PYTHON_500, True),  # llama-cpp-python 0.3.36
        (Strategy.JSON_SCHEMA, 400, "response_format value as json_schema is enabled only", True),
        (Strategy.JSON_OBJECT, 422, '{"detail": "response_format.schema: extra fields"}', True),
        (Strategy.TOOLS, 400, '{"message": "tool_choice is not supported"}', True),
        (Strategy.JSON_SCHEMA, 500, '{"error": {"message": "CUDA out of memory"}}', False),
        (Strategy.JSON_SCHEMA, 503, "response_format overloaded", False),  # 503: transient
        (Strategy.JSON_SCHEMA, 404, 'model "x" not found', False),
        (Strategy.PROMPT, 400, "response_format", False),  # nothing left to reject
    ],
)
def test_a_rejection_names_the_strategys_parameter(
    strategy: Strategy, status: int, body: str, expected: bool
) -> None:
    assert is_rejection(strategy, status, body) is expected


def test_json_is_found_in_prose_and_fences_but_never_repaired() -> None:
    assert extract_json('{"source": "x"}') == {"source": "x"}
    assert extract_json('Here:\n```json\n{"source": "x"}\n```\nDone.') == {"source": "x"}
    assert extract_json('Sure! {"source": "x", "notes": "{}"} hope it helps') == {
        "source": "x",
        "notes": "{}",
    }
    with pytest.raises(ValueError):
        extract_json('{"source": "print(1)", "notes": "cut of')
    with pytest.raises(ValueError):
        extract_json("[1, 2]")


def test_a_reply_cut_at_the_token_limit_is_invalid_even_if_it_parses() -> None:
    message = AIMessage('{"source": "x"}', response_metadata={"finish_reason": "length"})
    with pytest.raises(ReplyProblem, match="finish_reason=length"):
        reply_json(message)


def test_empty_replies_are_marked_for_a_retry_not_a_regeneration() -> None:
    with pytest.raises(ReplyProblem) as info:
        reply_json(AIMessage(""))
    assert info.value.empty
    with pytest.raises(ReplyProblem) as info:
        reply_json(AIMessage("not json at all"))
    assert not info.value.empty


def test_tool_call_arguments_are_the_reply() -> None:
    message = AIMessage(
        "", tool_calls=[{"name": "CodeArtifact", "args": {"source": "x"}, "id": "call_1"}]
    )
    assert reply_json(message) == {"source": "x"}


def test_each_strategy_sends_what_it_says() -> None:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="m", api_key="not-needed", base_url="http://127.0.0.1:9/v1")
    messages = [HumanMessage("task")]
    for strategy in Strategy:
        runnable, sent = prepare(model, strategy, CodeArtifact, messages)
        kwargs = getattr(runnable, "kwargs", {})
        fmt = kwargs.get("response_format")
        # whatever the strategy: the schema stated once, in the one system message first
        assert isinstance(sent[0], SystemMessage) and sent[1:] == messages
        assert str(sent[0].content).count('"source": string') == 1
        if strategy is Strategy.JSON_SCHEMA:
            assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "CodeArtifact"
            assert fmt["json_schema"]["strict"] is False
        elif strategy is Strategy.JSON_OBJECT:
            assert fmt["type"] == "json_object" and "source" in fmt["schema"]["properties"]
        elif strategy is Strategy.TOOLS:
            assert kwargs["tools"][0]["function"]["name"] == "CodeArtifact"
            assert kwargs["tool_choice"]["function"]["name"] == "CodeArtifact"
        else:
            assert runnable is model


def test_openai_gets_strict_json_schema_and_plain_json_mode() -> None:
    """Issue 23 case 8: OpenAI and Azure reject unknown parameters (response_format.schema)
    and accept strict: true with a schema that follows the strict rules."""
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="m", api_key="not-needed", base_url="http://127.0.0.1:9/v1")
    options = RequestOptions(strict=True, json_object_schema=False)
    runnable, _ = prepare(model, Strategy.JSON_OBJECT, CodeArtifact, [], options)
    assert runnable.kwargs["response_format"] == {"type": "json_object"}  # type: ignore[attr-defined]
    runnable, _ = prepare(model, Strategy.JSON_SCHEMA, CodeArtifact, [], options)
    sent = runnable.kwargs["response_format"]["json_schema"]  # type: ignore[attr-defined]
    assert sent["strict"] is True and sent["schema"]["additionalProperties"] is False


def test_memory_keeps_one_strategy_per_endpoint_and_model(tmp_path: Path) -> None:
    memory = StrategyMemory(tmp_path)
    assert memory.get("http://a/v1", "m") is None
    memory.remember("http://a/v1/", "m", Strategy.JSON_OBJECT)
    memory.remember("http://a/v1", "other", Strategy.PROMPT)
    memory.remember(None, "gpt-4o", Strategy.JSON_SCHEMA)
    again = StrategyMemory(tmp_path)
    assert again.get("http://a/v1", "m") is Strategy.JSON_OBJECT
    assert again.get("http://a/v1", "other") is Strategy.PROMPT
    assert again.get("https://api.openai.com/v1", "gpt-4o") is Strategy.JSON_SCHEMA
    assert len(json.loads((tmp_path / FILE_NAME).read_text())) == 3
    (tmp_path / FILE_NAME).write_text("{broken")
    assert StrategyMemory(tmp_path).get("http://a/v1", "m") is None  # a broken file is ignored


def test_an_unchanged_memory_file_is_not_read_again(tmp_path: Path, monkeypatch: Any) -> None:
    """A model call learns the remembered strategy from a ``stat`` while the file is as this
    process read it; any change (another writer, an edit) is read again."""
    memory = StrategyMemory(tmp_path)
    assert memory.recall("http://a/v1", "m") == (False, None)  # no file yet
    memory.remember("http://a/v1", "m", Strategy.JSON_OBJECT)
    assert memory.get("http://a/v1", "m") is Strategy.JSON_OBJECT
    reads: list[Path] = []
    read_text = Path.read_text

    def counted(self: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    assert memory.recall("http://a/v1", "m") == (True, Strategy.JSON_OBJECT)
    assert StrategyMemory(tmp_path).recall("http://a/v1", "other") == (True, None)
    assert reads == []
    StrategyMemory(tmp_path).remember("http://a/v1", "m", Strategy.PROMPT)  # another writer
    assert memory.recall("http://a/v1", "m") == (False, None)
    assert memory.get("http://a/v1", "m") is Strategy.PROMPT
    (tmp_path / FILE_NAME).write_text('{"http://a/v1 m": "tools"}')  # edited in place
    assert memory.recall("http://a/v1", "m") == (False, None)
    assert memory.get("http://a/v1", "m") is Strategy.TOOLS


def test_where_the_model_reads_the_request_schema_the_messages_do_not_repeat_it() -> None:
    """Issue 28: OpenAI and Azure render json_schema and tools schemas into the prompt (billed
    as input); stating the fields in the messages too sent the schema twice."""
    from langchain_openai import ChatOpenAI

    from autorust.llm.strategies import RequestOptions

    model = ChatOpenAI(model="m", api_key="not-needed", base_url="http://127.0.0.1:9/v1")
    options = RequestOptions(strict=True, json_object_schema=False, renders_schema=True)
    for strategy in Strategy:
        runnable, sent = prepare(model, strategy, CodeArtifact, [HumanMessage("t")], options)
        stated = '"source": string' in str(sent[0].content)
        assert "JSON schema CodeArtifact" in str(sent[0].content)
        assert stated is (strategy in (Strategy.JSON_OBJECT, Strategy.PROMPT))
        if strategy is Strategy.JSON_OBJECT:
            assert "schema" not in getattr(runnable, "kwargs", {})["response_format"]
