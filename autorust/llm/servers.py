"""What each kind of OpenAI-compatible endpoint needs, recognised from its URL or set by hand
(``server`` setting). Sources: the providers' documentation (see docs/models.md).

- OpenAI and Azure read ``max_completion_tokens`` (o-series reject ``max_tokens``), accept
  strict ``json_schema`` and reject unknown request parameters.
- Anthropic's OpenAI-compatible endpoint ignores ``response_format`` (the schema must be in the
  messages) and takes images up to 5 MB (base64) and 8000 px a side.
- Gemini's OpenAI-compatible endpoint reads ``max_tokens``.
- Ollama, llama-cpp-python, llama.cpp's llama-server, vLLM and SGLang read ``max_tokens``
  (Ollama and llama-cpp-python ignore ``max_completion_tokens``); llama-cpp-python constrains
  ``json_object`` replies to ``response_format.schema``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

ServerKind = Literal["openai", "azure", "anthropic", "gemini", "ollama", "local"]
TokenParam = Literal["max_tokens", "max_completion_tokens"]
MB = 1_000_000


@dataclass(frozen=True)
class ImageLimits:
    """What one image sent to the endpoint may be: base64 bytes, long side, pixels."""

    max_bytes: int
    max_side: int
    max_pixels: int


@dataclass(frozen=True)
class ServerFacts:
    token_param: TokenParam
    strict_json_schema: bool  # json_schema sent with strict: true
    json_object_schema: bool  # response_format.schema attached to json_object
    images: ImageLimits
    renders_schema: bool = False  # the model reads json_schema/tools schemas (billed as input)


# Image defaults: OpenAI scales to 2048 px then 768 px short side (20 MB per image); Anthropic
# 5 MB base64 and 8000 px (1568 px long side is what the model sees without resizing); Gemini
# 20 MB per request inline; local servers: the vision encoders' sizes, a modest byte cap.
_OPENAI_IMAGES = ImageLimits(20 * MB, 2048, 2048 * 2048)
FACTS: dict[str, ServerFacts] = {
    "openai": ServerFacts("max_completion_tokens", True, False, _OPENAI_IMAGES, True),
    "azure": ServerFacts("max_completion_tokens", True, False, _OPENAI_IMAGES, True),
    "anthropic": ServerFacts("max_tokens", False, False, ImageLimits(5 * MB, 1568, 1568 * 1568)),
    "gemini": ServerFacts("max_tokens", False, False, ImageLimits(7 * MB, 3072, 3072 * 3072)),
    "ollama": ServerFacts("max_tokens", False, True, ImageLimits(10 * MB, 2048, 2048 * 2048)),
    "local": ServerFacts("max_tokens", False, True, ImageLimits(10 * MB, 2048, 2048 * 2048)),
}  # fmt: skip

_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


def detect(base_url: str | None) -> ServerKind:
    """The endpoint's kind from its URL (no URL: OpenAI's own API)."""
    if not base_url:
        return "openai"
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "api.openai.com":
        return "openai"
    if host.endswith(_AZURE_HOSTS):
        return "azure"
    if host == "api.anthropic.com":
        return "anthropic"
    if host.endswith("generativelanguage.googleapis.com"):
        return "gemini"
    if parts.port == 11434:
        return "ollama"
    return "local"


_REASONING = re.compile(r"^(o\d|gpt-5(?!-chat))")


def is_reasoning(model: str | None, family: str | None) -> bool:
    """A reasoning model (o-series, GPT-5): no temperature, its budget includes reasoning.
    ``family`` names it where the model name cannot (an Azure deployment name)."""
    if family in ("reasoning", "chat"):
        return family == "reasoning"
    name = (model or "").lower().rsplit("/", 1)[-1]
    return bool(_REASONING.match(name))
