"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

It stands in for the model endpoint only: the client, retries, and parsing under test are real.
``responder(request_json) -> reply`` decides each answer; a reply is either a dict (sent as the
assistant's JSON content), a string (sent verbatim as content), or a ``Fault``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    status: int = 500
    body: dict[str, Any] = field(default_factory=lambda: {"error": {"message": "injected"}})
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


Reply = dict[str, Any] | str | Fault
Responder = Callable[[dict[str, Any]], Reply]


def replies_by_schema(script: dict[str, list[Any]], attempt: int = 0) -> Responder:
    """Answer each request from a scripted-replies file (examples/replies/*.yaml) by the schema
    the client asked for: Spec -> vision, CodeArtifact -> coding, Review -> checker."""
    agents = {"Spec": "vision", "CodeArtifact": "coding", "Review": "checker"}

    def respond(request: dict[str, Any]) -> Reply:
        replies = script[agents[schema_name(request) or ""]]
        return replies[min(attempt, len(replies) - 1)]

    return respond


def schema_name(request: dict[str, Any]) -> str | None:
    """The pydantic model name the client asked for via response_format or tools."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format["json_schema"]["name"]
    tools = request.get("tools") or []
    return tools[0]["function"]["name"] if tools else None


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out and hang up are part of the fault tests


class FakeOpenAI:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _completion(self, request: dict[str, Any], content: str) -> dict[str, Any]:
        prompt_tokens = max(1, len(json.dumps(request.get("messages", []))) // 4)
        completion_tokens = max(1, len(content) // 4)
        with self._lock:
            self.usage["prompt_tokens"] += prompt_tokens
            self.usage["completion_tokens"] += completion_tokens
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(request)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = fake.responder(request)
                if isinstance(reply, Fault):
                    time.sleep(reply.delay_s)
                    self._send(reply.status, reply.body, reply.headers)
                    return
                content = reply if isinstance(reply, str) else json.dumps(reply)
                self._send(200, fake._completion(request, content), {})

        return Handler


class FaultPlan:
    """Seeded fault injection: wraps a responder so a share of requests fail in varied ways.

    Kinds: 429 with ``retry-after: 0``, 500, a reply slower than the client's timeout (then
    503, so a late reply is never counted as delivered usage), truncated JSON, a reply that
    violates the schema, and an empty reply.
    """

    KINDS = ("429", "500", "slow", "truncated", "schema", "empty")

    def __init__(self, responder: Responder, rate: float, seed: int, slow_s: float) -> None:
        import random

        self.responder = responder
        self.rate = rate
        self.slow_s = slow_s
        self.random = random.Random(seed)
        self.injected: dict[str, int] = dict.fromkeys(self.KINDS, 0)
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            kind = self.random.choice(self.KINDS) if self.random.random() < self.rate else None
            if kind:
                self.injected[kind] += 1
        match kind:
            case "429":
                return Fault(429, headers={"retry-after": "0"})
            case "500":
                return Fault(500)
            case "slow":
                return Fault(503, delay_s=self.slow_s)
            case "truncated":
                return json.dumps(self.responder(request))[:40]
            case "schema":
                return {"unexpected": "shape"}
            case "empty":
                return ""
        return self.responder(request)
