"""Chat model factory: one client per agent, chosen by configuration, never by node code."""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from pydantic import BaseModel, SecretStr

from autorust.graph.context import AutorustConfig, ModelSettings
from autorust.llm.batch_transport import Collector
from autorust.llm.http_trace import traced_async_client
from autorust.llm.scripted import SCRIPTED_MODEL_NAME, ScriptedChatModel
from autorust.llm.servers import (
    FACTS,
    ImageLimits,
    ServerKind,
    TokenParam,
    detect,
    is_reasoning,
)
from autorust.llm.strategies import RequestOptions
from autorust.llm.strategy_memory import OPENAI_BASE_URL

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_RETRIES = 6
DEFAULT_CALL_BUDGET_S = 180.0
DEFAULT_MAX_REPLY_CHARS = 200_000
log = logging.getLogger("autorust.model")


class ModelEndpoint(BaseModel):
    """Where an agent's calls go and how hard to try: what every model error message names."""

    agent: str
    model: str
    base_url: str | None = None
    structured_output: str = "auto"
    max_retries: int = DEFAULT_MAX_RETRIES
    call_budget_s: float = DEFAULT_CALL_BUDGET_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    offline: bool = False
    server: ServerKind = "local"
    reasoning: bool = False
    max_tokens: int | None = None
    token_param: TokenParam = "max_tokens"
    max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS
    images: ImageLimits = FACTS["local"].images

    @property
    def options(self) -> RequestOptions:
        facts = FACTS[self.server]
        return RequestOptions(
            strict=facts.strict_json_schema,
            json_object_schema=facts.json_object_schema,
            renders_schema=facts.renders_schema,
        )

    @property
    def host(self) -> str:
        if self.offline:
            return "offline replay"
        url = self.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
        parts = urlsplit(url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else url

    def describe(self) -> str:
        """``coding agent (model qwen2.5-coder at localhost:11434)``"""
        return f"{self.agent} agent (model {self.model} at {self.host})"


def endpoint_for(agent: str, config: AutorustConfig) -> ModelEndpoint:
    if config.provider == "scripted":
        return ModelEndpoint(agent=agent, model=SCRIPTED_MODEL_NAME, offline=True)
    settings = config.model_for(agent)
    server = server_kind(settings)
    return ModelEndpoint(
        agent=agent,
        model=settings.model or "?",
        base_url=settings.base_url,
        structured_output=settings.structured_output or "auto",
        max_retries=DEFAULT_MAX_RETRIES if settings.max_retries is None else settings.max_retries,
        call_budget_s=settings.call_budget_s or DEFAULT_CALL_BUDGET_S,
        timeout_s=settings.timeout_s or DEFAULT_TIMEOUT_S,
        server=server,
        reasoning=is_reasoning(settings.model, settings.model_family),
        max_tokens=settings.max_tokens,
        token_param=token_param(settings, server),
        max_reply_chars=settings.max_reply_chars or DEFAULT_MAX_REPLY_CHARS,
        images=image_limits(settings, server),
    )


def image_limits(settings: ModelSettings, server: ServerKind) -> ImageLimits:
    """The server kind's defaults, each overridable (max_image_bytes/_side/_pixels)."""
    default = FACTS[server].images
    return ImageLimits(
        max_bytes=settings.max_image_bytes or default.max_bytes,
        max_side=settings.max_image_side or default.max_side,
        max_pixels=settings.max_image_pixels or default.max_pixels,
    )


def server_kind(settings: ModelSettings) -> ServerKind:
    if settings.server and settings.server != "auto":
        return settings.server
    if is_azure_classic(settings):
        return "azure"
    return detect(settings.base_url or os.environ.get("OPENAI_BASE_URL"))


def token_param(settings: ModelSettings, server: ServerKind) -> TokenParam:
    """The request field the server reads as the reply cap: OpenAI and Azure read
    ``max_completion_tokens`` (reasoning models reject ``max_tokens``); Ollama and
    llama-cpp-python read only ``max_tokens``, as do llama-server, vLLM and Anthropic."""
    if settings.token_param and settings.token_param != "auto":
        return settings.token_param
    return FACTS[server].token_param


class ModelNotConfiguredError(RuntimeError):
    pass


def api_key_for(agent: str) -> SecretStr | None:
    """Per-agent key first, then the shared ones. Never stored in config or state."""
    names = (f"AUTORUST_{agent.upper()}_API_KEY", "AUTORUST_API_KEY", "OPENAI_API_KEY",
             "AZURE_OPENAI_API_KEY")  # fmt: skip
    for name in names:
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


def make_chat_model(
    agent: str,
    config: AutorustConfig,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    collector: Collector | None = None,
    clients: dict[tuple[Any, ...], BaseChatModel] | None = None,
) -> BaseChatModel:
    """The agent's chat model. Clients are cached per event loop (``loop``; ``None`` for a
    client that only validates settings): an async HTTP connection pool must not outlive the
    loop it was opened on, and a closed loop's clients go with it. ``clients``: a batch's own
    cache instead (its resources close the clients with it). ``collector``: a
    ``--batch-api`` batch's (``batch_transport.py``): its clients send chat completions to it."""
    if config.provider == "scripted":
        if not config.scripted_replies:
            raise ModelNotConfiguredError(
                "provider 'scripted' needs scripted_replies (a folder of <image>.yaml replies)"
            )
        return _scripted(agent, str(Path(config.scripted_replies).resolve()))
    settings = config.model_for(agent)
    key = api_key_for(agent)
    if clients is None:
        clients = _CLIENTS.setdefault(loop if loop is not None else _NO_LOOP, {})
    if is_azure_classic(settings):
        return azure_model(settings, key.get_secret_value() if key else None, clients, collector)
    if not settings.model or (
        key is None and not settings.base_url and not os.environ.get("OPENAI_BASE_URL")
    ):
        raise ModelNotConfiguredError(not_configured_message(agent))
    return _openai(settings, key.get_secret_value() if key else None, clients, collector)


class _NoLoop:
    """Stands for "no event loop" in the per-loop client cache (a weak key)."""


_NO_LOOP = _NoLoop()
Clients = dict[tuple[Any, ...], BaseChatModel]
# event loop -> (client settings, --batch-api collector) -> client; weak, so a closed loop's clients
# are dropped with it and a new loop never gets a dead loop's client (an id() could repeat)
_CLIENTS: weakref.WeakKeyDictionary[Any, Clients] = weakref.WeakKeyDictionary()


def _cached(clients: Clients, build: Callable[..., BaseChatModel], *args: Any) -> BaseChatModel:
    key = (build, *args)  # the last arg, a --batch-api collector: clients of their own
    if (client := clients.get(key)) is None:
        client = clients[key] = build(*args)
    return client


@cache
def _scripted(agent: str, replies_dir: str) -> BaseChatModel:
    return ScriptedChatModel(replies_dir=Path(replies_dir), agent=agent)


def _openai(
    settings: ModelSettings, api_key: str | None, clients: Clients, collector: Collector | None
) -> BaseChatModel:
    # Local OpenAI-compatible servers usually accept any key; the client insists on one.
    temperature = settings.temperature
    reasoning = is_reasoning(settings.model, settings.model_family)
    if reasoning and temperature is not None and temperature != 1:
        note_once(
            f"model {settings.model} is a reasoning model (o-series/GPT-5, or model_family "
            f"'reasoning'): these reject temperature, so temperature {temperature} is not sent"
        )
        temperature = None
    return _cached(
        clients,
        _openai_client,
        settings.model,
        settings.base_url,
        temperature,
        settings.timeout_s or DEFAULT_TIMEOUT_S,
        settings.max_tokens,
        token_param(settings, server_kind(settings)),
        settings.reasoning_effort,
        api_key or "not-needed",
        settings.requests_per_minute,
        collector,
    )


def is_azure_classic(settings: ModelSettings) -> bool:
    return bool(settings.api_version or settings.azure_deployment or settings.azure_auth)


ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


def azure_model(
    settings: ModelSettings,
    api_key: str | None,
    clients: Clients,
    collector: Collector | None = None,
) -> BaseChatModel:
    """Azure OpenAI's classic endpoints: ``<resource>/openai/deployments/<deployment>/chat/
    completions?api-version=...`` with an ``api-key`` header, or Entra ID bearer tokens."""
    deployment = settings.azure_deployment or settings.model
    if not settings.base_url or not deployment or not settings.api_version:
        raise ModelNotConfiguredError(
            "Azure OpenAI needs base_url (https://NAME.openai.azure.com), api_version (e.g. "
            "2024-10-21) and azure_deployment (or model): AUTORUST_DEFAULT__BASE_URL, "
            "AUTORUST_DEFAULT__API_VERSION, AUTORUST_DEFAULT__AZURE_DEPLOYMENT"
        )
    entra = settings.azure_auth == "entra"
    if not entra and api_key is None:
        raise ModelNotConfiguredError(
            "Azure OpenAI with azure_auth 'key' needs a key: AZURE_OPENAI_API_KEY (or "
            "AUTORUST_API_KEY); or set azure_auth to 'entra' for Entra ID sign-in"
        )
    temperature = settings.temperature
    if is_reasoning(settings.model, settings.model_family) and temperature not in (None, 1):
        note_once(
            f"deployment {deployment} is a reasoning model (model_family 'reasoning'): "
            f"temperature {temperature} is not sent"
        )
        temperature = None
    return _cached(
        clients,
        _azure_client,
        settings.base_url, deployment, settings.api_version, settings.model, temperature,
        settings.timeout_s or DEFAULT_TIMEOUT_S, settings.max_tokens,
        token_param(settings, "azure"), settings.reasoning_effort,
        None if entra else api_key, settings.requests_per_minute, collector,
    )  # fmt: skip


def entra_token_provider() -> Any:
    try:
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise ModelNotConfiguredError(
            "Entra ID sign-in (azure_auth 'entra') needs azure-identity: "
            "pip install 'autorust[azure]'"
        ) from None
    return get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)


def _azure_client(
    base_url: str,
    deployment: str,
    api_version: str,
    model: str | None,
    temperature: float | None,
    timeout_s: float,
    max_tokens: int | None,
    token_param: TokenParam,
    reasoning_effort: str | None,
    api_key: str | None,
    requests_per_minute: float | None,
    collector: Collector | None = None,
) -> BaseChatModel:
    limiter = endpoint_rate_limiter(base_url, requests_per_minute) if requests_per_minute else None
    body_cap = max_tokens if token_param == "max_tokens" else None
    auth: dict[str, Any] = (
        {"api_key": SecretStr(api_key)}
        if api_key is not None
        else {"azure_ad_async_token_provider": entra_token_provider()}
    )
    return AzureChatOpenAI(
        azure_endpoint=base_url,
        azure_deployment=deployment,
        api_version=api_version,
        model=model,
        temperature=temperature,
        max_tokens=None if body_cap else max_tokens,
        extra_body={"max_tokens": body_cap} if body_cap else None,
        reasoning_effort=reasoning_effort,
        timeout=timeout_s,
        max_retries=0,
        http_async_client=traced_async_client(timeout_s, collector),
        disable_streaming=True,
        rate_limiter=limiter,
        **auth,
    )


@cache
def note_once(message: str) -> None:
    log.warning(message)


@cache
def endpoint_rate_limiter(base_url: str | None, requests_per_minute: float) -> InMemoryRateLimiter:
    """One token bucket per endpoint, shared by every agent and concurrent run using it."""
    per_second = requests_per_minute / 60
    return InMemoryRateLimiter(
        requests_per_second=per_second,
        check_every_n_seconds=0.05,
        max_bucket_size=max(1, per_second),
    )


def _openai_client(
    model: str | None,
    base_url: str | None,
    temperature: float | None,
    timeout_s: float,
    max_tokens: int | None,
    token_param: TokenParam,
    reasoning_effort: str | None,
    api_key: str,
    requests_per_minute: float | None,
    collector: Collector | None = None,
) -> BaseChatModel:
    limiter = endpoint_rate_limiter(base_url, requests_per_minute) if requests_per_minute else None
    # Retries are ours (autorust/llm/structured.py): one budget per call, strategy rejections
    # recognised before any retry, every reply's usage counted from the hook on the client.
    # ChatOpenAI sends its max_tokens as max_completion_tokens, which Ollama and
    # llama-cpp-python ignore: for those the cap travels as max_tokens in the body.
    body_cap = max_tokens if token_param == "max_tokens" else None
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        temperature=temperature,
        max_tokens=None if body_cap else max_tokens,
        extra_body={"max_tokens": body_cap} if body_cap else None,
        reasoning_effort=reasoning_effort,
        timeout=timeout_s,
        max_retries=0,
        api_key=SecretStr(api_key),
        http_async_client=traced_async_client(timeout_s, collector),
        disable_streaming=True,
        rate_limiter=limiter,
    )
