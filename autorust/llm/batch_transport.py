"""Chat completions sent through the Batch API instead of live, below the model client.

A model client built with a collector (``make_chat_model(..., collector=)``, from the batch's
resources) has this transport: every ``POST .../chat/completions`` it makes is handed to the
collector and answered, once the round's batch is done, with the line's
response as if the server had answered live: the client, the usage trace and the reply
journal see an ordinary reply. Without one, requests go out as usual.

The line's custom_id is the graph thread + a hash of the request body + its occurrence in
the thread, so a resumed run asks for the same ids it asked before it was killed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, Protocol

import httpx2
from openai._constants import DEFAULT_CONNECTION_LIMITS

from autorust.llm.batch_api import custom_id


class Collector(Protocol):
    async def ask(
        self, line_id: str, body: dict[str, Any], endpoint: str, api_key: str
    ) -> tuple[int, dict[str, Any]]: ...


BATCH_WINDOW_S = 25 * 3600  # the 24 h completion window, and time to fetch the results


def _thread() -> str:
    from langgraph.config import get_config

    try:
        return str(get_config().get("configurable", {}).get("thread_id") or "no-thread")
    except RuntimeError:
        return "no-thread"


class RoutingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.inner = httpx2.AsyncHTTPTransport(limits=DEFAULT_CONNECTION_LIMITS)
        self.asked: Counter[tuple[str, str]] = Counter()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        collector = self.collector
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return await self.inner.handle_async_request(request)
        body = json.loads(await request.aread())
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
        thread = _thread()
        occurrence = self.asked[(thread, digest)]
        self.asked[(thread, digest)] += 1
        endpoint = str(request.url.copy_with(query=None)).removesuffix("/chat/completions")
        api_key = request.headers.get("authorization", "").removeprefix("Bearer ")
        line_id = custom_id(thread, f"{digest}:{occurrence}")
        status, reply = await collector.ask(line_id, body, endpoint, api_key)
        return httpx2.Response(status, json=reply, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()
