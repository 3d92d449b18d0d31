"""What the endpoint actually answered, seen from an httpx event hook on the client.

Every HTTP response of a traced call is noted (status, the ``usage`` the server reported, and
whether a 200 body was usable), so token accounting is the server's own numbers, including
replies the client library later fails to parse (empty ``choices``, a truncated body). Nothing
here touches logging configuration.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from time import time
from typing import Any

import httpx2
import openai


@dataclass
class Exchange:
    status: int
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # usage.prompt_tokens_details.cached_tokens (OpenAI prompt caching)
    usage_reported: bool = False
    problem: str | None = None  # a 200 reply that is no usable completion
    retry_after_s: float | None = None


@dataclass
class HttpTrace:
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None


# A ContextVar because the hook runs inside the shared httpx client, below the OpenAI SDK and
# LangChain: it is per call (not per batch) and no argument reaches it from the caller.
_CURRENT: ContextVar[HttpTrace | None] = ContextVar("autorust_http_trace", default=None)


def start_trace() -> tuple[HttpTrace, Any]:
    trace = HttpTrace()
    return trace, _CURRENT.set(trace)


def stop_trace(token: Any) -> None:
    _CURRENT.reset(token)


def retry_after_s(headers: httpx2.Headers) -> float | None:
    """``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date) in seconds."""
    if value := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time())
        except (TypeError, ValueError):
            return None


def _completion_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "reply body is not a JSON object"
    if body.get("error"):
        return "reply body is an error"
    choices = body.get("choices")
    if not choices:
        return "reply has no choices"
    message = (choices[0] or {}).get("message") or {}
    if not message.get("content") and not message.get("tool_calls"):
        if choices[0].get("finish_reason") == "content_filter":
            return None  # a refusal: the reply is complete, the parser reports it
        return "reply has no content"
    return None


async def on_response(response: httpx2.Response) -> None:
    trace = _CURRENT.get()
    if trace is None:
        return
    exchange = Exchange(response.status_code, retry_after_s=retry_after_s(response.headers))
    if response.status_code == 200:
        await response.aread()
        try:
            body = json.loads(response.content)
        except ValueError:
            exchange.problem = "reply body is not JSON"
        else:
            usage = body.get("usage") if isinstance(body, dict) else None
            if isinstance(usage, dict):
                exchange.input_tokens = int(usage.get("prompt_tokens") or 0)
                exchange.output_tokens = int(usage.get("completion_tokens") or 0)
                details = usage.get("prompt_tokens_details")
                if isinstance(details, dict):
                    exchange.cached_tokens = int(details.get("cached_tokens") or 0)
                exchange.usage_reported = True
            exchange.problem = _completion_problem(body)
    trace.exchanges.append(exchange)


def traced_async_client(timeout_s: float, collector: Any = None) -> httpx2.AsyncClient:
    """The OpenAI SDK's default async client (its limits and redirects) with the trace hook;
    with a ``--batch-api`` ``collector``, chat completions go to it (below the client)."""
    from autorust.llm.batch_transport import RoutingTransport

    transport = RoutingTransport(collector) if collector is not None else None
    return openai.DefaultAsyncHttpxClient(
        timeout=timeout_s, event_hooks={"response": [on_response]}, transport=transport
    )
