"""Run configuration: which models, prompts, executor and limits a run uses.

Loaded from (highest priority first) explicit overrides, ``AUTORUST_*`` environment variables
(nested with ``__``, e.g. ``AUTORUST_CODING__MODEL``) and an optional ``autorust.toml`` in the
working directory. The same model is the graph's context schema, so LangGraph Studio shows
and edits these fields. Secrets are deliberately *not* fields: API keys are read from the
environment only when a client is built (see ``autorust/llm/models.py``).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from autorust.graph.state import MODEL_AGENTS
from autorust.prompts.loader import resolve_version, template_hash
from autorust.sandbox.base import ExecutorSettings

# the prompt templates a run uses: one per model agent, plus the vision agent's confirmation
PROMPT_FAMILIES = (*MODEL_AGENTS, "vision_confirm")
# model settings that change what a model answers (timeouts and retry counts do not)
RESULT_MODEL_FIELDS = {"model", "base_url", "temperature", "structured_output"}
StructuredOutput = Literal["auto", "json_schema", "json_object", "tools", "prompt"]
ServerSetting = Literal["auto", "openai", "azure", "anthropic", "gemini", "ollama", "local"]
ModelFamily = Literal["auto", "chat", "reasoning"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high"]
TokenParamSetting = Literal["auto", "max_tokens", "max_completion_tokens"]


class ModelSettings(BaseModel):
    """One agent's chat model. Unset fields fall back to ``default``."""

    model: str | None = Field(None, description="model name, e.g. gpt-4o or llama3.2-vision")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (Azure, Ollama, vLLM, llama.cpp ...)"
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="sampling temperature (0-2; unset: the server's default)"
    )
    structured_output: StructuredOutput | None = Field(
        None,
        description="how replies are constrained to the schema: 'json_schema' (OpenAI, Azure, "
        "vLLM, llama.cpp's llama-server, Ollama), 'json_object' (JSON mode with the schema "
        "attached: llama-cpp-python), 'tools' (function calling), 'prompt' (schema in the "
        "prompt only); 'auto' (default) falls back in that order when the endpoint rejects one",
    )
    max_tokens: int | None = Field(None, gt=0, description="cap on tokens per reply")
    server: ServerSetting | None = Field(
        None,
        description="the endpoint's kind ('auto': from the URL): decides the token-cap "
        "parameter, strict json_schema and image limits",
    )
    token_param: TokenParamSetting | None = Field(
        None,
        description="request field for max_tokens: 'max_completion_tokens' (OpenAI, Azure) or "
        "'max_tokens' (Ollama, llama.cpp, vLLM, Anthropic, Gemini); 'auto' by server kind",
    )
    model_family: ModelFamily | None = Field(
        None,
        description="'reasoning' for o-series/GPT-5 models (no temperature; reasoning_effort), "
        "e.g. behind an Azure deployment name; 'auto' (default) from the model name",
    )
    reasoning_effort: ReasoningEffort | None = Field(
        None, description="reasoning models: how much to think (sent as reasoning_effort)"
    )
    max_reply_chars: int | None = Field(
        None, gt=0, description="largest reply accepted (default 200,000 characters)"
    )
    api_version: str | None = Field(
        None,
        description="Azure OpenAI classic endpoints: the api-version (e.g. 2024-10-21); with it "
        "base_url is the resource (https://NAME.openai.azure.com) and requests go to "
        "/openai/deployments/<azure_deployment>/chat/completions",
    )
    azure_deployment: str | None = Field(None, description="Azure deployment name (default: model)")
    azure_auth: Literal["key", "entra"] | None = Field(
        None,
        description="Azure: 'key' (api-key header; AZURE_OPENAI_API_KEY or the usual keys) or "
        "'entra' (Entra ID tokens via azure-identity: pip install 'autorust[azure]')",
    )
    max_image_bytes: int | None = Field(
        None, gt=0, description="largest image sent, base64 bytes (default by server kind)"
    )
    max_image_side: int | None = Field(
        None, gt=0, description="longest image side sent, px (default by server kind)"
    )
    max_image_pixels: int | None = Field(
        None, gt=0, description="most pixels per image sent (default by server kind)"
    )
    timeout_s: float | None = Field(None, gt=0, description="per-request timeout")
    max_retries: int | None = Field(
        None, ge=0, description="retries after transient errors (429, 5xx, timeouts) per call"
    )
    call_budget_s: float | None = Field(
        None,
        gt=0,
        description="wall-clock bound on one agent call, retries and regenerations included",
    )
    requests_per_minute: float | None = Field(
        None, gt=0, description="rate limit shared by every agent and run using this endpoint"
    )


class AutorustConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUTORUST_",
        env_nested_delimiter="__",
        toml_file="autorust.toml",
        extra="ignore",
    )

    provider: Literal["openai", "scripted"] = Field(
        "openai",
        description="'openai': ChatOpenAI against any OpenAI-compatible endpoint; "
        "'scripted': replay replies from files (offline demo/tests, no model is called)",
    )
    scripted_replies: str | None = Field(
        None, description="folder of <image-stem>.yaml scripted replies (provider=scripted)"
    )
    default: ModelSettings = Field(
        default_factory=ModelSettings,
        description="model settings every agent uses unless its own section sets them",
    )
    vision: ModelSettings = Field(default_factory=ModelSettings)
    coding: ModelSettings = Field(default_factory=ModelSettings)
    checker: ModelSettings = Field(default_factory=ModelSettings)
    max_iterations: int = Field(3, ge=1, le=50, description="coding attempts per image")
    max_regenerations: int = Field(
        2, ge=0, le=10, description="re-asks after an invalid structured reply"
    )
    prompt_versions: dict[str, str] = Field(
        default_factory=dict, description="agent -> prompt version ('v1'); newest if unset"
    )
    executor: ExecutorSettings = Field(
        default_factory=ExecutorSettings, description="where generated code runs, and how"
    )
    ocr: Literal["auto", "on", "off"] = Field(
        "auto",
        description="read the image's text with OCR and give it to the vision model "
        "('auto': when tesseract is installed; 'on': fail clearly without it)",
    )
    max_cost: float | None = Field(
        None,
        gt=0,
        description="batch spending cap, in the currency of prices.toml; a call "
        "that could cross it is not sent and its image ends budget_exceeded (resumable)",
    )
    max_item_cost: float | None = Field(None, gt=0, description="spending cap per image")
    max_item_tokens: int | None = Field(
        None, gt=0, description="input + output tokens cap per image"
    )
    figure_threshold: float = Field(
        0.9, ge=0.0, le=1.0, description="visual similarity a figure must reach to pass"
    )
    approve_execution: bool = Field(
        False, description="pause for a human to approve each program before it runs"
    )
    approve_final_failure: bool = Field(
        False, description="pause after the last failed attempt to grant more attempts"
    )
    price_table: str | None = Field(
        None, description="TOML file of $ per 1M tokens by model (default: graph/prices.toml)"
    )
    home: str = Field(".autorust", description="folder for checkpoints and caches")
    output_dir: str = Field("autorust-out", description="folder for per-image results")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def model_for(self, agent: str) -> ModelSettings:
        """The agent's settings with ``default`` filling the gaps."""
        own: ModelSettings = getattr(self, agent)
        merged = self.default.model_dump() | own.model_dump(exclude_none=True)
        return ModelSettings(**merged)

    def prompt_version(self, agent: str) -> str:
        return resolve_version(agent, self.prompt_versions.get(agent))

    def resolved_prompt_versions(self) -> dict[str, str]:
        return {family: self.prompt_version(family) for family in PROMPT_FAMILIES}

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.home) / "checkpoints.sqlite"

    def fingerprint(self) -> str:
        """Hash of every setting that changes a run's result; part of every thread id, so a
        run with different settings never reuses (or skips as finished) another's threads."""
        relevant = {
            "provider": self.provider,
            "scripted_replies": (
                replies_hash(self.scripted_replies)
                if self.provider == "scripted" and self.scripted_replies
                else None
            ),
            "models": {agent: result_fields(self.model_for(agent)) for agent in MODEL_AGENTS},
            "prompts": {
                family: [version, template_hash(family, version)]
                for family, version in self.resolved_prompt_versions().items()
            },
            "executor": self.executor.model_dump(
                mode="json", include={"kind", "cloud_function_url", "limits"}
            ),
            "ocr": self.ocr,
            "figure_threshold": self.figure_threshold,
            "max_iterations": self.max_iterations,
            "max_regenerations": self.max_regenerations,
        }
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


def result_fields(settings: ModelSettings) -> dict[str, object]:
    """The settings that change what a model answers; ones added later count only when set
    (older runs keep their fingerprint)."""
    fields = settings.model_dump(include=RESULT_MODEL_FIELDS)
    if settings.reasoning_effort is not None:
        fields["reasoning_effort"] = settings.reasoning_effort
    return fields


def replies_hash(folder: str) -> str:
    """Content hash of a scripted-replies folder (its YAML files, names and bytes)."""
    path = Path(folder)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else []
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _replies_hash(str(path.resolve()), stamp)


@cache
def _replies_hash(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        digest.update(name.encode() + b"\0" + (Path(folder) / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
