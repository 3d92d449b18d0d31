"""How a model call fails, in words a user can act on.

Every message names the agent, the endpoint host and the model; none carries a key (every
message passes ``autorust.redaction.redact``) or the server's traceback (only a short excerpt of
the server's error message is kept). Each error carries the call's ``ModelCall`` so the usage of
the replies that came before the failure is recorded in state.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx2
import openai

from autorust.graph.state import ModelCall
from autorust.redaction import redact

SERVER_TEXT_CHARS = 240
_TRACEBACK = re.compile(r"(Traceback \(most recent call last\)|\n\s*File \"|\n\n)")


class ModelCallError(RuntimeError):
    """A model call that ended without a valid reply. ``transient`` failures may succeed later
    (the call's retry budget is spent, so a later run, not the node, should retry them)."""

    transient = False

    def __init__(self, message: str, call: ModelCall | None = None) -> None:
        super().__init__(redact(message))
        self.call = call

    def state_update(self) -> dict[str, Any]:
        """End the run as an error, keeping the exchange (and its usage) in state."""
        update: dict[str, Any] = {"status": "error", "error": str(self)}
        if self.call is not None:
            update["model_calls"] = [self.call]
        return update


class InvalidModelOutputError(ModelCallError, ValueError):
    """The model kept replying with output that does not fit the schema."""


class ModelAccountError(ModelCallError):
    """No call to this endpoint can succeed until the user acts (credentials, billing): a
    batch stops at the first one instead of failing every item the same way."""


class ModelAuthError(ModelAccountError):
    """The endpoint rejected the credentials (401/403)."""


class ModelQuotaError(ModelAccountError):
    """The account is out of quota or credit (429 ``insufficient_quota``): a billing state,
    not a rate limit, so waiting does not help."""


class ModelRequestError(ModelCallError):
    """The endpoint rejected the request itself (400/404/422...): retrying cannot help."""


class ModelContextLengthError(ModelRequestError):
    """The request is longer than the model's context window."""


class ModelUnavailableError(ModelCallError):
    """Transient failures (429, 5xx, timeouts, broken replies) outlasted the call's budget."""

    transient = True


def server_text(body: Any) -> str:
    """A short, single-line excerpt of the server's error message: no traceback, no key."""
    message: Any = body
    if isinstance(body, str):
        try:
            message = json.loads(body)
        except ValueError:
            message = body
    if isinstance(message, dict):
        inner = message.get("error", message)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner.get("detail") or inner.get("msg") or inner
        elif "message" in message:  # vLLM: {"object": "error", "message": ...}
            inner = message["message"]
        message = inner
    text = message if isinstance(message, str) else json.dumps(message, default=str)
    text = _TRACEBACK.split(text, maxsplit=1)[0]
    text = " ".join(text.split())
    if len(text) > SERVER_TEXT_CHARS:
        text = text[: SERVER_TEXT_CHARS - 3] + "..."
    return redact(text)


def status_of(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, openai.APIStatusError) else None


def body_text(exc: BaseException) -> str:
    """The full error body (for recognising strategy rejections; never shown as is)."""
    if isinstance(exc, openai.APIStatusError):
        try:
            return exc.response.text
        except (httpx2.ResponseNotRead, RuntimeError):
            return json.dumps(exc.body, default=str) if exc.body is not None else ""
    return ""


TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
# a 429 that is a billing state, not a rate limit (OpenAI: "insufficient_quota"; Azure and
# others: the quota or credit words)
_QUOTA_WORDS = ("insufficient_quota", "exceeded your current quota", "credit balance is too low",
                "billing", "quota exceeded", "out of credits")  # fmt: skip
# OpenAI "context_length_exceeded"; vLLM "maximum context length is"; llama-cpp-python
# "exceed context window"; Anthropic "prompt is too long"; Ollama/llama-server "context size"
_CONTEXT_WORDS = ("context_length_exceeded", "maximum context length", "context window",
                  "context length", "prompt is too long", "context size",
                  "input tokens exceed", "too many tokens")  # fmt: skip


def is_quota_error(status: int | None, body: str) -> bool:
    lowered = body.lower()
    return status in (402, 429) and any(word in lowered for word in _QUOTA_WORDS)


def is_context_length_error(status: int | None, body: str) -> bool:
    lowered = body.lower()
    return status in (400, 413, 422, 500) and any(word in lowered for word in _CONTEXT_WORDS)


def rejected_temperature(status: int | None, body: str) -> bool:
    """OpenAI reasoning models: "Unsupported value: 'temperature' does not support 0.2 with
    this model. Only the default (1) value is supported." (400)."""
    lowered = body.lower()
    return (
        status == 400
        and "temperature" in lowered
        and ("unsupported" in lowered or "not support" in lowered or "only the default" in lowered)
    )


def rejected_max_tokens(status: int | None, body: str) -> bool:
    """OpenAI reasoning models: "Unsupported parameter: 'max_tokens' is not supported with this
    model. Use 'max_completion_tokens' instead." (400)."""
    lowered = body.lower()
    return status == 400 and "'max_tokens'" in lowered and "max_completion_tokens" in lowered


def transient_reason(exc: BaseException) -> str | None:
    """Why ``exc`` is worth retrying ('HTTP 503', 'timeout', ...), or None if it is not."""
    status = status_of(exc)
    if status is not None:
        return f"HTTP {status}" if status in TRANSIENT_STATUSES or status >= 500 else None
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | ConnectionError):
        return "connection error"
    if isinstance(exc, json.JSONDecodeError):
        return "non-JSON reply body"
    return None


def is_transient(exc: BaseException) -> bool:
    """For a node's RetryPolicy: retry transient failures that were not retried already.

    A ``ModelCallError`` is final: the model layer retried transient errors within the call's
    budget, and deterministic ones (bad request, credentials, invalid output) cannot succeed.
    """
    if isinstance(exc, ModelCallError | asyncio.CancelledError):
        return False
    return transient_reason(exc) is not None
