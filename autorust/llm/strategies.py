"""Structured-output strategies: how a request asks for JSON of a schema, and how the reply's
JSON is found. Validation against the schema always happens on our side (``structured.py``).

- ``json_schema``: ``response_format: {"type": "json_schema", ...}`` (OpenAI, Azure, vLLM,
  llama.cpp's llama-server, Ollama >= 0.5).
- ``json_object``: ``response_format: {"type": "json_object", "schema": ...}`` plus the schema in
  the prompt (llama-cpp-python constrains to the schema; servers that only know JSON mode still
  get valid JSON and the schema in words).
- ``tools``: one function whose parameters are the schema, the call forced by ``tool_choice``.
- ``prompt``: no request parameter at all; the schema is in the prompt, the JSON is taken from
  the reply's text (fenced or bare).
"""

from __future__ import annotations

import functools
import json
import re
from enum import StrEnum
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel


class Strategy(StrEnum):
    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TOOLS = "tools"
    PROMPT = "prompt"


AUTO_ORDER: tuple[Strategy, ...] = (
    Strategy.JSON_SCHEMA,
    Strategy.JSON_OBJECT,
    Strategy.TOOLS,
    Strategy.PROMPT,
)
# words a server's error names when it does not support the strategy's request parameter
_REJECTION_WORDS: dict[Strategy, tuple[str, ...]] = {
    Strategy.JSON_SCHEMA: ("response_format", "json_schema"),
    Strategy.JSON_OBJECT: ("response_format", "json_object"),
    Strategy.TOOLS: ("tools", "tool_choice", "function"),
    Strategy.PROMPT: (),
}
REJECTION_STATUSES = frozenset({400, 422, 500})


def candidates(setting: str | None, remembered: Strategy | None) -> list[Strategy]:
    """Strategies to try, in order: a fixed setting alone; ``auto`` from the remembered one."""
    if setting and setting != "auto":
        return [Strategy(setting)]
    start = AUTO_ORDER.index(remembered) if remembered in AUTO_ORDER else 0
    return list(AUTO_ORDER[start:])


def is_rejection(strategy: Strategy, status: int | None, body: str) -> bool:
    """Did the server refuse the strategy's request parameter (rather than fail)?"""
    if status not in REJECTION_STATUSES:
        return False
    lowered = body.lower()
    return any(word in lowered for word in _REJECTION_WORDS[strategy])


def schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``schema`` (a fresh copy: callers may adjust it)."""
    return json.loads(_json_schema(schema))  # 30x cheaper than deepcopy of the dict


@functools.cache
def _json_schema(schema: type[BaseModel]) -> str:
    # model_json_schema takes ~3 ms: computed once per model class
    return json.dumps(schema.model_json_schema(), separators=(",", ":"))


def instructions(schema: type[BaseModel]) -> SystemMessage:
    """The schema in words, for strategies where the server does not get (or may ignore) it."""
    return SystemMessage(
        f"Reply with one JSON object matching the JSON schema {schema.__name__} below, and "
        "nothing else: no prose, no code fences around it.\n"
        f"{_json_schema(schema)}"
    )


def prepare(
    model: BaseChatModel, strategy: Strategy, schema: type[BaseModel], messages: list[BaseMessage]
) -> tuple[Runnable[Any, BaseMessage], list[BaseMessage]]:
    """The runnable to invoke and the messages to send for ``strategy``."""
    name = schema.__name__
    if strategy is Strategy.JSON_SCHEMA:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema_of(schema), "strict": False},
        }
        return model.bind(response_format=response_format), messages
    if strategy is Strategy.TOOLS:
        tool = {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Return the {name} object.",
                "parameters": schema_of(schema),
            },
        }
        return model.bind_tools([tool], tool_choice=name), messages
    with_schema = [*messages, instructions(schema)]
    if strategy is Strategy.JSON_OBJECT:
        response_format = {"type": "json_object", "schema": schema_of(schema)}
        return model.bind(response_format=response_format), with_schema
    return model, with_schema


_FENCED = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL)


def reply_text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, list):
        content = "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str | dict)
        )
    return (content or "").strip()


def _loads_object(text: str) -> Any:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def extract_json(text: str) -> Any:
    """The JSON object in a reply: the whole text, a fenced block, or the outermost braces.

    Nothing is repaired: a cut-off object stays invalid.
    """
    try:
        return _loads_object(text)
    except ValueError as first_error:
        for fenced in _FENCED.findall(text):
            try:
                return _loads_object(fenced.strip())
            except ValueError:
                continue
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end and (start, end) != (0, len(text) - 1):
            try:
                return _loads_object(text[start : end + 1])
            except ValueError:
                pass
        raise first_error


class ReplyProblem(ValueError):
    """The reply is complete but unusable; ``empty`` replies are retried, not re-asked."""

    def __init__(self, message: str, *, empty: bool = False) -> None:
        super().__init__(message)
        self.empty = empty


TRUNCATED = (
    "the reply was cut off at the token limit (finish_reason=length): write a shorter, "
    "complete object"
)
FILTERED = "the endpoint's content filter blocked the reply (finish_reason=content_filter)"


def reply_json(message: AIMessage) -> Any:
    """The candidate object in a reply (tool-call arguments or the text's JSON)."""
    metadata = message.response_metadata or {}
    if refusal := (message.additional_kwargs or {}).get("refusal"):
        raise ReplyProblem(f"the model refused: {refusal}")
    if metadata.get("finish_reason") == "content_filter":
        raise ReplyProblem(FILTERED)
    if metadata.get("finish_reason") == "length":
        raise ReplyProblem(TRUNCATED)
    if message.tool_calls:
        return message.tool_calls[0]["args"]
    if message.invalid_tool_calls:
        bad = message.invalid_tool_calls[0]
        raise ReplyProblem(f"the tool call's arguments are not valid JSON: {bad.get('error')}")
    text = reply_text(message)
    if not text:
        raise ReplyProblem("empty reply", empty=True)
    try:
        return extract_json(text)
    except ValueError as exc:
        raise ReplyProblem(f"the reply is not a complete JSON object ({exc})") from None
