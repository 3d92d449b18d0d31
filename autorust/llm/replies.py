"""Replies that are complete but unusable, classified so each gets the right second chance.

- ``refusal``: ``message.refusal`` set (OpenAI) - re-asked once, naming the refusal.
- ``length``: ``finish_reason: "length"``, with or without content (a reasoning model that
  spends its budget thinking returns ``content: null``) - re-asked once with twice the budget.
- ``filtered``: ``finish_reason: "content_filter"`` - re-asked once.
- ``empty``: no content and no tool call, finished normally - sent again once.

A second reply of the same kind ends the call with a message that says what happened; none of
them is retried blindly as if the endpoint had failed.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from langchain_core.messages import AIMessage

from autorust.llm.http_trace import Exchange
from autorust.llm.strategies import FILTERED, TRUNCATED, reply_text

REFUSAL_CHARS = 300


class ReplyIssue(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail

    def reask(self) -> str:
        if self.kind == "refusal":
            return (
                f'the model refused ("{self.detail}"). This is a programming exercise read '
                "from an image; answer it with the requested object"
            )
        if self.kind == "length":
            return TRUNCATED
        return FILTERED if self.kind == "filtered" else self.detail

    def final(self, agent: str, max_tokens: int | None) -> str:
        setting = f"AUTORUST_{agent.upper()}"
        if self.kind == "refusal":
            return f'the model refused twice, last: "{self.detail}"'
        if self.kind == "length":
            cap = f"{max_tokens:,} tokens" if max_tokens else "the server's default"
            return (
                f"the reply was cut off at the token limit twice ({self.detail}; cap {cap}): "
                f"raise {setting}__MAX_TOKENS, or lower {setting}__REASONING_EFFORT for a "
                "reasoning model"
            )
        if self.kind == "filtered":
            return "the endpoint's content filter blocked the reply twice"
        return f"the model sent empty replies twice ({self.detail})"


def classify(
    exc: BaseException | None, message: AIMessage | None, last: Exchange | None
) -> ReplyIssue | None:
    """The reply's issue, if it is one of the classified kinds."""
    if isinstance(exc, openai.LengthFinishReasonError):  # the SDK raises these for
        choices = exc.completion.choices  # response_format requests
        empty = not choices or not (choices[0].message.content or choices[0].message.tool_calls)
        return ReplyIssue("length", "finish_reason=length" + (", content null" if empty else ""))
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return ReplyIssue("filtered", "finish_reason=content_filter")
    if exc is not None or message is None:
        return None
    if refusal := (message.additional_kwargs or {}).get("refusal"):
        return ReplyIssue("refusal", " ".join(str(refusal).split())[:REFUSAL_CHARS])
    finish = (message.response_metadata or {}).get("finish_reason")
    has_content = bool(message.tool_calls or message.invalid_tool_calls or reply_text(message))
    if finish == "length":
        what = "finish_reason=length" + ("" if has_content else ", content null")
        return ReplyIssue("length", what)
    if finish == "content_filter":
        return ReplyIssue("filtered", "finish_reason=content_filter")
    if not has_content:
        problem = last.problem if last is not None and last.problem else "reply has no content"
        return ReplyIssue("empty", f"{problem}, finish_reason={finish}")
    return None


def _tool_arguments(message: AIMessage) -> list[str]:
    texts = [json.dumps(call.get("args"), ensure_ascii=False) for call in message.tool_calls]
    texts += [str(call.get("args") or "") for call in message.invalid_tool_calls]
    return texts


def reply_chars(message: AIMessage) -> int:
    """How long the reply is: its text and tool-call arguments."""
    return len(reply_text(message)) + sum(len(text) for text in _tool_arguments(message))


def echo_of(message: AIMessage | None, issue: ReplyIssue | None) -> str:
    """What the assistant said, for the assistant turn of a re-ask."""
    if issue is not None and issue.kind == "refusal":
        return issue.detail
    if message is None:
        return "(no content)" if issue is None else f"(no content: {issue.detail})"
    arguments: Any = _tool_arguments(message)
    return arguments[0] if arguments else reply_text(message)
