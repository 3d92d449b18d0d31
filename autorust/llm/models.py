"""Chat model factory: one client per agent, chosen by configuration, never by node code."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from autorust.graph.context import AutorustConfig, ModelSettings
from autorust.llm.scripted import ScriptedChatModel

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_RETRIES = 4


class ModelNotConfiguredError(RuntimeError):
    pass


def api_key_for(agent: str) -> SecretStr | None:
    """Per-agent key first, then the shared ones. Never stored in config or state."""
    for name in (f"AUTORUST_{agent.upper()}_API_KEY", "AUTORUST_API_KEY", "OPENAI_API_KEY"):
        if value := os.environ.get(name):
            return SecretStr(value)
    return None


def not_configured_message(agent: str) -> str:
    return (
        f"No model is configured for the {agent} agent. Either point autorust at a model:\n"
        "  export AUTORUST_DEFAULT__MODEL=gpt-4o OPENAI_API_KEY=...          # OpenAI\n"
        "  export AUTORUST_DEFAULT__MODEL=llama3.2-vision "
        "AUTORUST_DEFAULT__BASE_URL=http://localhost:11434/v1   # Ollama/vLLM/llama.cpp\n"
        f"  (per agent: AUTORUST_{agent.upper()}__MODEL, __BASE_URL, __TEMPERATURE; "
        "or an autorust.toml file)\n"
        "or run the offline demo with scripted replies: autorust demo"
    )


def make_chat_model(agent: str, config: AutorustConfig) -> BaseChatModel:
    if config.provider == "scripted":
        if not config.scripted_replies:
            raise ModelNotConfiguredError(
                "provider 'scripted' needs scripted_replies (a folder of <image>.yaml replies)"
            )
        return _scripted(agent, str(Path(config.scripted_replies).resolve()))
    settings = config.model_for(agent)
    key = api_key_for(agent)
    if not settings.model or (
        key is None and not settings.base_url and not os.environ.get("OPENAI_BASE_URL")
    ):
        raise ModelNotConfiguredError(not_configured_message(agent))
    return _openai(agent, settings, key.get_secret_value() if key else None)


@cache
def _scripted(agent: str, replies_dir: str) -> BaseChatModel:
    return ScriptedChatModel(replies_dir=Path(replies_dir), agent=agent)


def _openai(agent: str, settings: ModelSettings, api_key: str | None) -> BaseChatModel:
    # Local OpenAI-compatible servers usually accept any key; the client insists on one.
    return _cached_openai(
        settings.model,
        settings.base_url,
        settings.temperature,
        settings.timeout_s or DEFAULT_TIMEOUT_S,
        DEFAULT_MAX_RETRIES if settings.max_retries is None else settings.max_retries,
        api_key or "not-needed",
        settings.requests_per_minute,
    )


@cache
def endpoint_rate_limiter(base_url: str | None, requests_per_minute: float) -> InMemoryRateLimiter:
    """One token bucket per endpoint, shared by every agent and concurrent run using it."""
    per_second = requests_per_minute / 60
    return InMemoryRateLimiter(
        requests_per_second=per_second,
        check_every_n_seconds=0.05,
        max_bucket_size=max(1, per_second),
    )


@cache
def _cached_openai(
    model: str | None,
    base_url: str | None,
    temperature: float | None,
    timeout_s: float,
    max_retries: int,
    api_key: str,
    requests_per_minute: float | None,
) -> BaseChatModel:
    limiter = endpoint_rate_limiter(base_url, requests_per_minute) if requests_per_minute else None
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        temperature=temperature,
        timeout=timeout_s,
        max_retries=max_retries,
        api_key=SecretStr(api_key),
        stream_usage=True,
        rate_limiter=limiter,
    )
