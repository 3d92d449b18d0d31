"""Structured-output strategies: how a request asks for JSON of a schema, and how the reply's
JSON is found. Validation against the schema always happens on our side (``structured.py``).

- ``json_schema``: ``response_format: {"type": "json_schema", ...}`` (OpenAI, Azure, vLLM,
  llama.cpp's llama-server, Ollama >= 0.5).
- ``json_object``: ``response_format: {"type": "json_object"}``, with the schema attached where
  the server reads it (llama-cpp-python constrains to it; OpenAI and Azure reject the unknown
  parameter, so it is not sent there).
- ``tools``: one function whose parameters are the schema, the call forced by ``tool_choice``.
- ``prompt``: no request parameter at all; the JSON is taken from the reply's text (fenced or
  bare).

The model reads the schema once: where the server renders the request's schema into the prompt
(OpenAI and Azure, for json_schema and tools) the messages only point at it; everywhere else
(servers that only constrain decoding with it, or ignore ``response_format`` and answer 200, as
Anthropic's OpenAI-compatible endpoint does) the fields are stated compactly in the system
message. The schema sent is the lean one (structure only: ``schemas.lean_schema``), and the
messages alternate roles as strict chat templates require (``conversation.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel

from autorust.llm.conversation import arrange
from autorust.llm.schemas import lean_schema, schema_statement, strict_schema


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


@dataclass(frozen=True)
class RequestOptions:
    """What the endpoint accepts beyond the common protocol."""

    strict: bool = False  # json_schema with strict: true (OpenAI, Azure)
    json_object_schema: bool = True  # response_format.schema with json_object (llama-cpp-python
    # constrains to it; OpenAI and Azure reject unknown parameters)
    renders_schema: bool = False  # the model reads response_format's json_schema and tools'
    # parameters (OpenAI, Azure: billed as input); elsewhere they only constrain decoding


def statement_for(
    strategy: Strategy, schema: type[BaseModel], options: RequestOptions = RequestOptions()
) -> str:
    """The schema as the messages state it: the fields, unless the model reads them already."""
    sent = strategy in (Strategy.JSON_SCHEMA, Strategy.TOOLS)
    return schema_statement(schema, fields=not (sent and options.renders_schema))


def prepare(
    model: BaseChatModel,
    strategy: Strategy,
    schema: type[BaseModel],
    messages: list[BaseMessage],
    options: RequestOptions = RequestOptions(),
) -> tuple[Runnable[Any, BaseMessage], list[BaseMessage]]:
    """The runnable to invoke and the messages to send for ``strategy``: the model reads the
    schema once (``statement_for``) and the roles alternate (``conversation.arrange``)."""
    name = schema.__name__
    to_send = arrange(messages, statement_for(strategy, schema, options))
    if strategy is Strategy.JSON_SCHEMA:
        body = strict_schema(schema) if options.strict else lean_schema(schema)
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": body, "strict": options.strict},
        }
        return model.bind(response_format=response_format), to_send
    if strategy is Strategy.TOOLS:
        tool = {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Return the {name} object.",
                "parameters": lean_schema(schema),
            },
        }
        return model.bind_tools([tool], tool_choice=name), to_send
    if strategy is Strategy.JSON_OBJECT:
        response_format: dict[str, Any] = {"type": "json_object"}
        if options.json_object_schema:
            response_format["schema"] = lean_schema(schema)
        return model.bind(response_format=response_format), to_send
    return model, to_send


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
    # strict=False: raw newlines and tabs inside strings, as llama.cpp's JSON grammar allows
    value = json.loads(text, strict=False)
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
    """The candidate object in a reply (tool-call arguments or the text's JSON). Refusals,
    cut-off and empty replies are classified before this (``replies.classify``)."""
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
        try:  # e.g. raw newlines inside strings, which the client's strict parser refuses
            return extract_json(str(bad.get("args") or ""))
        except ValueError:
            pass
        raise ReplyProblem(f"the tool call's arguments are not valid JSON: {bad.get('error')}")
    text = reply_text(message)
    if not text:
        raise ReplyProblem("empty reply", empty=True)
    try:
        return extract_json(text)
    except ValueError as exc:
        raise ReplyProblem(f"the reply is not a complete JSON object ({exc})") from None
