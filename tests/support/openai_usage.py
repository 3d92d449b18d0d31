"""Usage as OpenAI reports it, for the loopback fake server (``FakeOpenAI(usage=...)``).

- Tokens: a fixed approximation, one token per 4 characters of everything the model reads
  (message texts with a few tokens per message, the ``response_format`` schema, the tools),
  and images by OpenAI's high-detail formula: scaled to fit 2048 px, then the short side to
  768 px, 85 + 170 per 512 px tile.
- Prompt caching (platform.openai.com/docs/guides/prompt-caching): a request whose first
  tokens equal an earlier request's (tools, then response_format, then the messages in
  order) is billed ``prompt_tokens_details.cached_tokens`` for the longest such prefix, in
  steps of 128 tokens from 1,024 on.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import threading
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = "<|msg|>" + " " * 9  # ~4 tokens per message, as OpenAI's chat format
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128


def image_tokens(data_url: str) -> int:
    from PIL import Image

    payload = data_url.partition(",")[2]
    with Image.open(io.BytesIO(base64.b64decode(payload))) as img:
        width, height = img.size
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    text = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            digest = hashlib.sha256(url.encode()).hexdigest()[:16]
            marker = f"<image {digest}>"  # as long as the image's tokens, same for same bytes
            text.append(marker.ljust(image_tokens(url) * CHARS_PER_TOKEN, "~"))
        else:
            text.append(str(part.get("text", "")))
    return "".join(text)


def prompt_text(request: dict[str, Any]) -> str:
    """What the model reads, in the order the provider caches it: tools, response_format,
    messages (images as placeholders of their token length)."""
    parts = []
    if request.get("tools"):
        parts.append(json.dumps(request["tools"], separators=(",", ":")))
    if request.get("response_format"):
        parts.append(json.dumps(request["response_format"], separators=(",", ":")))
    for message in request.get("messages", []):
        parts.append(f"{MESSAGE_OVERHEAD}{message.get('role')}\n")
        parts.append(_content_text(message.get("content")))
        for call in message.get("tool_calls") or []:
            parts.append(json.dumps(call.get("function", {}), separators=(",", ":")))
    return "".join(parts)


def count_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


class OpenAIUsage:
    """Counts a request's prompt tokens and the cached share of them (thread-safe)."""

    def __init__(self, caching: bool = True) -> None:
        self.caching = caching
        self._seen: list[str] = []
        self.log: list[tuple[int, int]] = []  # per request: tokens, longest shared prefix
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> tuple[int, int]:
        text = prompt_text(request)
        tokens = count_tokens(text)
        with self._lock:
            common = max((_common_prefix(text, seen) for seen in self._seen), default=0)
            self._seen.append(text)
            self.log.append((tokens, common // CHARS_PER_TOKEN))
        if not self.caching:
            return tokens, 0
        cached_tokens = common // CHARS_PER_TOKEN
        if cached_tokens < CACHE_MIN_TOKENS:
            return tokens, 0
        cached = cached_tokens - cached_tokens % CACHE_STEP_TOKENS
        return tokens, min(cached, tokens)


def _common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    low, high = 0, limit  # binary search on equal prefixes: O(n log n) in C string compares
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
