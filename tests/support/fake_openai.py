"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

It stands in for the model endpoint only: the client, retries, and parsing under test are real.
``responder(request_json) -> reply`` decides each answer; a reply is a dict (the assistant's
JSON: sent as content, or as the forced tool call's arguments), a string (sent verbatim as
content), a ``Completion`` (content with a chosen ``finish_reason``), a ``RawReply`` (any
status and body bytes) or a ``Fault``.

A ``ServerProfile`` emulates the documented differences of real servers: which structured-output
strategies each accepts, how it rejects the others (status, error-body shape, a traceback in the
text), and what it adds around the completion (Azure's content-filter annotations and the
underlying model name, llama.cpp's ``timings``). ``usage`` is where all of them report it: in
the body of a non-streamed completion.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackServer


@dataclass
class Fault:
    status: int = 500
    body: dict[str, Any] = field(default_factory=lambda: {"error": {"message": "injected"}})
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Completion:
    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None  # OpenAI: message.refusal, content null


@dataclass
class RawReply:
    """Bytes as they are (a proxy's HTML page, a body without choices...); ``usage`` is what
    the fake counts as billed for it."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    usage: tuple[int, int] = (0, 0)


Reply = dict[str, Any] | str | Completion | RawReply | Fault
Responder = Callable[[dict[str, Any]], Reply]
AGENT_OF_SCHEMA = {"Spec": "vision", "CodeArtifact": "coding", "Review": "checker"}


def strategy_of(request: dict[str, Any]) -> str:
    response_format = request.get("response_format") or {}
    if response_format.get("type") in ("json_schema", "json_object"):
        return response_format["type"]
    return "tools" if request.get("tools") else "prompt"


_SCHEMA_IN_PROMPT = re.compile(r"matching the JSON schema (\w+)")


def schema_name(request: dict[str, Any]) -> str | None:
    """The pydantic model name the client asked for, whatever the strategy."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format["json_schema"]["name"]
    if isinstance(response_format.get("schema"), dict) and response_format["schema"].get("title"):
        return response_format["schema"]["title"]
    tools = request.get("tools") or []
    if tools:
        return tools[0]["function"]["name"]
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, str) and (match := _SCHEMA_IN_PROMPT.search(content)):
            return match[1]
    return None


def replies_by_schema(script: dict[str, list[Any]], attempt: int = 0) -> Responder:
    """Answer each request from a scripted-replies file (examples/replies/*.yaml) by the schema
    the client asked for: Spec -> vision, CodeArtifact -> coding, Review -> checker."""

    def respond(request: dict[str, Any]) -> Reply:
        replies = script[AGENT_OF_SCHEMA[schema_name(request) or ""]]
        return replies[min(attempt, len(replies) - 1)]

    return respond


class CodingOutage:
    """A responder whose coding replies are invalid JSON (billed, then the call fails) while
    ``on``; it records the schema of every request in ``asked``."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script, self.on, self.asked = replies_by_schema(script), True, list[str]()

    def __call__(self, request: dict[str, Any]) -> Reply:
        self.asked.append(str(schema_name(request)))
        if self.on and schema_name(request) == "CodeArtifact":
            return "{not json"
        return self.script(request)


# ---- server profiles -------------------------------------------------------------------------

ALL_STRATEGIES = frozenset({"json_schema", "json_object", "tools", "prompt"})
LLAMA_CPP_PYTHON_500 = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
    "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"/srv/venv/lib/python3.11/"
    'site-packages/llama_cpp/server/app.py", line 376, in create_chat_completion\n'
    "    POST /v1/chat/completions"
)


ROLES_MUST_ALTERNATE = (
    "Conversation roles must alternate user/assistant/user/assistant/..."  # Gemma 3 template
)
PROSE = (
    "Happy to help! The image shows a small programming exercise. I would start by reading "
    "the examples carefully, then write a function that handles each case."
)


def _message_texts(request: dict[str, Any]) -> list[str]:
    texts = []
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [str(part.get("text", "")) for part in content if isinstance(part, dict)]
    return texts


def schema_in_messages(request: dict[str, Any]) -> bool:
    """The fields are stated in the messages (not only in response_format)."""
    return any(_SCHEMA_IN_PROMPT.search(text) for text in _message_texts(request))


def roles_alternate(request: dict[str, Any]) -> bool:
    roles = [m.get("role") for m in request.get("messages", [])]
    if roles and roles[0] in ("system", "developer"):
        roles = roles[1:]
    return bool(roles) and all(
        role == ("user" if index % 2 == 0 else "assistant") for index, role in enumerate(roles)
    )


def error_body(message: str, shape: str, status: int, code: str | None = None) -> dict[str, Any]:
    if shape == "vllm":
        return {"object": "error", "message": message, "type": "BadRequestError", "param": None,
                "code": status}  # fmt: skip
    return {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}}  # fmt: skip


@dataclass(frozen=True)
class SentImage:
    kind: str  # png, jpeg, webp
    size: tuple[int, int]
    b64_bytes: int


def images_of(request: dict[str, Any]) -> list[SentImage]:
    """The data-URL images of a request, in order."""
    import base64
    import io

    from PIL import Image

    found = []
    for message in request.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            url = (part.get("image_url") or {}).get("url", "") if isinstance(part, dict) else ""
            if url.startswith("data:image/"):
                header, _, payload = url.partition(",")
                with Image.open(io.BytesIO(base64.b64decode(payload))) as img:
                    size = img.size
                found.append(SentImage(header[len("data:image/") :].split(";")[0], size,
                                       len(payload)))  # fmt: skip
    return found


@dataclass(frozen=True)
class ServerProfile:
    name: str
    accepts: frozenset[str] = ALL_STRATEGIES
    rejection_status: int = 400
    error_shape: str = "openai"  # "openai": {"error": {...}}; "vllm": {"object": "error", ...}
    tool_choice_honoured: bool = True
    reply_model: str | None = None  # Azure names the underlying model, not the deployment
    extra_body: Callable[[], dict[str, Any]] | None = None
    extra_choice: Callable[[], dict[str, Any]] | None = None
    # Anthropic: response_format ignored (200); prose unless the fields are in the messages
    prose_without_schema: bool = False
    # strict chat templates (Gemma 3, Mistral): 400 unless roles alternate after the system
    alternating_roles: bool = False
    # OpenAI/Azure reject unknown request parameters (e.g. json_object's "schema")
    rejects_unknown_parameters: bool = False
    # OpenAI reasoning models: no temperature but 1, no max_tokens; a budget under
    # reasoning_tokens is spent thinking (content null, finish_reason length)
    reasoning_tokens: int | None = None
    # the request field the server reads as the reply cap (None: it reads none)
    cap_field: str | None = "max_completion_tokens"
    # per image: base64 bytes and pixels a side (Anthropic: 5 MB, 8000 px)
    max_image_b64: int | None = None
    max_image_px: int | None = None

    def request_error(self, request: dict[str, Any]) -> Fault | None:
        """A 400 for a request this server does not take as it is (before any reply)."""
        response_format = request.get("response_format") or {}
        if self.rejects_unknown_parameters and "schema" in response_format:
            return Fault(400, body={"error": {
                "message": "Unknown parameter: 'response_format.schema'.",
                "type": "invalid_request_error", "param": "response_format.schema",
                "code": "unknown_parameter"}})  # fmt: skip
        if self.reasoning_tokens is not None:
            if request.get("temperature") not in (None, 1, 1.0):
                return Fault(400, body=error_body(
                    f"Unsupported value: 'temperature' does not support "
                    f"{request['temperature']} with this model. Only the default (1) value is "
                    "supported.", "openai", 400, "unsupported_value"))  # fmt: skip
            if "max_tokens" in request:
                return Fault(400, body=error_body(
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.", "openai", 400,
                    "unsupported_parameter"))  # fmt: skip
        if self.alternating_roles and not roles_alternate(request):
            return Fault(400, body=error_body(ROLES_MUST_ALTERNATE, self.error_shape, 400))
        for image in images_of(request):
            if self.max_image_b64 is not None and image.b64_bytes > self.max_image_b64:
                message = (
                    "messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: "
                    f"{image.b64_bytes} bytes > {self.max_image_b64} bytes"
                )
                return Fault(400, body=error_body(message, "openai", 400))
            if self.max_image_px is not None and max(image.size) > self.max_image_px:
                return Fault(400, body=error_body(
                    "messages.0.content.1.image.source.base64.data: At least one of the image "
                    f"dimensions exceed max allowed size: {self.max_image_px} pixels", "openai",
                    400))  # fmt: skip
        return None

    def reply_cap(self, request: dict[str, Any]) -> int | None:
        return request.get(self.cap_field) if self.cap_field else None

    def rejection(self, strategy: str) -> Fault:
        if self.name == "llama-cpp-python":
            message = LLAMA_CPP_PYTHON_500
        elif self.name == "azure-openai-2024-06-01":
            message = (
                "response_format value as json_schema is enabled only for api versions "
                "2024-08-01-preview and later"
            )
        else:
            message = (
                f"unsupported value for {'tools' if strategy == 'tools' else 'response_format'}"
            )
        if self.error_shape == "vllm":
            body: dict[str, Any] = {
                "object": "error", "message": message, "type": "BadRequestError",
                "param": None, "code": self.rejection_status,
            }  # fmt: skip
        else:
            body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                              "code": None}}  # fmt: skip
        return Fault(self.rejection_status, body=body)


def _azure_filters() -> dict[str, Any]:
    safe = {"filtered": False, "severity": "safe"}
    return {"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe}


PROFILES: dict[str, ServerProfile] = {
    # OpenAI (platform.openai.com/docs/api-reference/chat): unknown parameters are 400s
    "openai": ServerProfile("openai", rejects_unknown_parameters=True),
    # Azure OpenAI before api-version 2024-08-01-preview: no json_schema; annotations around
    # the completion; "model" is the underlying model, whatever the deployment is called
    "azure-openai-2024-06-01": ServerProfile(
        "azure-openai-2024-06-01",
        accepts=frozenset({"json_object", "tools", "prompt"}),
        reply_model="gpt-4o-2024-05-13",
        extra_body=lambda: {
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]
        },
        extra_choice=lambda: {"content_filter_results": _azure_filters()},
    ),
    "azure-openai": ServerProfile(
        "azure-openai",
        reply_model="gpt-4o-2024-08-06",
        extra_choice=lambda: {"content_filter_results": _azure_filters()},
    ),
    # vLLM (guided decoding): every strategy; errors are {"object": "error", ...}
    "vllm": ServerProfile("vllm", error_shape="vllm"),
    # Ollama >= 0.5: json_schema and json_object; tools work but tool_choice is ignored; the
    # reply cap is read from max_tokens only (github.com/ollama/ollama docs/openai.md)
    "ollama": ServerProfile("ollama", tool_choice_honoured=False, cap_field="max_tokens"),
    # llama-cpp-python 0.3.x: json_schema is a 500 with the validation text and a traceback
    "llama-cpp-python": ServerProfile(
        "llama-cpp-python",
        accepts=frozenset({"json_object", "tools", "prompt"}),
        rejection_status=500,
        cap_field="max_tokens",
    ),
    # llama.cpp's llama-server: json_schema (and json_object with a schema); adds timings
    "llama-server": ServerProfile(
        "llama-server",
        extra_body=lambda: {"timings": {"prompt_n": 1, "predicted_n": 1}},
    ),
    # Anthropic's OpenAI SDK compatibility (docs.anthropic.com/en/api/openai-sdk):
    # "response_format" is ignored, so replies are prose unless the messages state the fields;
    # tools with a forced tool_choice work; max_tokens is read
    # images: at most 5 MB of base64 and 8000 px a side each (docs.anthropic.com/en/docs/
    # build-with-claude/vision)
    "anthropic": ServerProfile(
        "anthropic",
        reply_model="claude-sonnet-4-5",
        prose_without_schema=True,
        cap_field="max_tokens",
        max_image_b64=5 * 1024 * 1024,
        max_image_px=8000,
    ),
    # OpenAI o-series (platform.openai.com/docs/guides/reasoning): temperature other than 1
    # and max_tokens are 400s; reasoning tokens count against max_completion_tokens, and a
    # budget spent thinking returns content null with finish_reason "length"
    "openai-reasoning": ServerProfile(
        "openai-reasoning",
        reply_model="o3-2025-04-16",
        rejects_unknown_parameters=True,
        reasoning_tokens=1500,
    ),
    # vLLM serving Gemma 3 (its chat template raises unless roles alternate: 400)
    "vllm-gemma": ServerProfile(
        "vllm-gemma", error_shape="vllm", alternating_roles=True, cap_field="max_tokens"
    ),
    # a server without function calling
    "no-tools": ServerProfile(
        "no-tools", accepts=frozenset({"prompt"}), rejection_status=422, error_shape="vllm"
    ),
}


class FakeOpenAI(LoopbackServer):
    def __init__(
        self,
        responder: Responder,
        profile: str | ServerProfile = "openai",
        usage: Callable[[dict[str, Any]], tuple[int, int]] | None = None,
    ) -> None:
        """``usage(request) -> (prompt_tokens, cached_tokens)``: how prompt tokens are counted
        (default: a quarter of the messages' JSON); with it, the reply's usage carries
        ``prompt_tokens_details.cached_tokens`` as OpenAI's does (tests/support/openai_usage)."""
        self.responder = responder
        self.count_usage = usage
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.requests: list[dict[str, Any]] = []
        self.caps: list[int | None] = []  # the reply cap the server read, per request
        self.paths: list[str] = []  # request paths, with their query
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int] = []
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}
        self._lock = threading.Lock()
        self._serve(self._handler())

    def strategies(self) -> list[str]:
        return [strategy_of(r) for r in self.requests]

    def _bill(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> None:
        with self._lock:
            self.usage["prompt_tokens"] += prompt_tokens
            self.usage["completion_tokens"] += completion_tokens
            self.usage["cached_tokens"] += cached_tokens

    def _completion(
        self,
        request: dict[str, Any],
        content: str | None,
        finish_reason: str = "stop",
        refusal: str | None = None,
    ) -> dict[str, Any]:
        cached_tokens = None
        if self.count_usage is not None:
            prompt_tokens, cached_tokens = self.count_usage(request)
        else:
            prompt_tokens = max(1, len(json.dumps(request.get("messages", []))) // 4)
        completion_tokens = max(1, len(content or refusal or "") // 4)
        cap = self.profile.reply_cap(request)
        if self.profile.reasoning_tokens is not None and (cap or 10**9) < (
            self.profile.reasoning_tokens + completion_tokens
        ):
            content, finish_reason, completion_tokens = None, "length", cap or 0
        self._bill(prompt_tokens, completion_tokens, cached_tokens or 0)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if refusal is not None:
            message = {"role": "assistant", "content": None, "refusal": refusal}
        forced = isinstance(request.get("tool_choice"), dict)
        if (
            strategy_of(request) == "tools"
            and content is not None
            and finish_reason == "stop"
            and (forced or not self.profile.tool_choice_honoured)
        ):
            name = request["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": "" if self.profile.name == "ollama" else None,
                "tool_calls": [
                    {
                        "id": f"call_{uuid.uuid4().hex[:8]}",
                        "type": "function",
                        "function": {"name": name, "arguments": content},
                    }
                ],
            }
            finish_reason = "tool_calls"
        choice: dict[str, Any] = {
            "index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None,
        }  # fmt: skip
        if self.profile.extra_choice:
            choice |= self.profile.extra_choice()
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.profile.reply_model or request.get("model", "fake"),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if cached_tokens is not None:
            body["usage"]["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
        if self.profile.extra_body:
            body |= self.profile.extra_body()
        return body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send_bytes(
                self, status: int, data: bytes, headers: dict[str, str], content_type: str
            ) -> None:
                with fake._lock:
                    fake.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                self._send_bytes(status, json.dumps(body).encode(), headers, "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(request)
                    fake.headers.append(headers)
                    fake.caps.append(fake.profile.reply_cap(request))
                    fake.paths.append(self.path)
                strategy = strategy_of(request)
                if strategy not in fake.profile.accepts:
                    fault = fake.profile.rejection(strategy)
                    self._send(fault.status, fault.body, fault.headers)
                    return
                if (fault := fake.profile.request_error(request)) is not None:
                    self._send(fault.status, fault.body, fault.headers)
                    return
                forced_tool = strategy == "tools" and isinstance(request.get("tool_choice"), dict)
                if (
                    fake.profile.prose_without_schema
                    and not forced_tool
                    and not schema_in_messages(request)
                ):
                    self._send(200, fake._completion(request, PROSE), {})
                    return
                reply = fake.responder(request)
                if isinstance(reply, Fault):
                    time.sleep(reply.delay_s)
                    body = json.loads(
                        json.dumps(reply.body).replace("{authorization}", headers.get(
                            "authorization", ""))
                    )  # fmt: skip
                    self._send(reply.status, body, reply.headers)
                    return
                if isinstance(reply, RawReply):
                    fake._bill(*reply.usage)
                    self._send_bytes(reply.status, reply.body, {}, reply.content_type)
                    return
                if isinstance(reply, Completion):
                    completion = fake._completion(
                        request, reply.content, reply.finish_reason, reply.refusal
                    )
                else:
                    content = reply if isinstance(reply, str) else json.dumps(reply)
                    completion = fake._completion(request, content)
                self._send(200, completion, {})

        return Handler


class FaultPlan:
    """Seeded fault injection: wraps a responder so a share of requests fail in varied ways.

    Kinds: 429 with ``retry-after: 0``, 500, a reply slower than the client's timeout (then
    503, so a late reply is never counted as delivered usage), truncated JSON, a reply that
    violates the schema, an empty reply, a 200 that is not JSON, a 200 without choices (but
    with usage), a reply cut at the token limit.
    """

    KINDS = (
        "429", "500", "slow", "truncated", "schema", "empty", "non_json", "no_choices", "length",
    )  # fmt: skip

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
            case "non_json":
                return RawReply(b"<html>upstream hiccup</html>", content_type="text/html")
            case "no_choices":
                return no_choices(usage=(17, 0))
            case "length":
                return Completion(json.dumps(self.responder(request))[:60], "length")
        return self.responder(request)


def no_choices(usage: tuple[int, int] = (0, 0)) -> RawReply:
    body = {
        "id": "chatcmpl-empty", "object": "chat.completion", "created": int(time.time()),
        "model": "fake", "choices": [],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                  "total_tokens": sum(usage)},
    }  # fmt: skip
    return RawReply(json.dumps(body).encode(), usage=usage)
