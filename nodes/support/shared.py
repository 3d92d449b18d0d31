"""What every node needs from the runtime: the run's configuration and model-call metadata."""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import Runtime
from pydantic import BaseModel

from autorust.graph.context import AutorustConfig
from autorust.graph.state import ModelCall, RunState, Spec
from autorust.llm.budget import estimate_tokens
from autorust.llm.errors import ModelCallError, is_transient
from autorust.llm.models import ModelEndpoint, api_key_for, endpoint_for, make_chat_model
from autorust.llm.resources import RunResources, run_resources
from autorust.llm.strategy_memory import StrategyMemory
from autorust.llm.structured import invoke_structured
from autorust.prompts.loader import load_prompt, prompt_layout
from autorust.redaction import redact


def app_config(runtime: Runtime[AutorustConfig] | None) -> AutorustConfig:
    """The run's configuration; environment/file defaults when the caller passed no context."""
    context = runtime.context if runtime is not None else None
    if context is None:
        return AutorustConfig()
    if isinstance(context, dict):
        return AutorustConfig(**context)
    return context


def call_metadata(state: RunState) -> dict[str, Any]:
    """Tags a model call with the image and iteration (traces, and the scripted model's key)."""
    return {
        "autorust_image": Path(state.image_path).stem,
        "autorust_image_sha256": state.image_sha256,
        "autorust_iteration": state.iteration,
    }


T = TypeVar("T", bound=BaseModel)


__all__ = ["AgentTools", "ModelCallError", "agent_tools", "ask_model", "retry_transient"]


class RedactedNodeError(RuntimeError):
    """A node failed with a message that held a secret; this is the message without it."""


def redacting(node: Callable[..., Awaitable[dict[str, Any]]]) -> Callable[..., Any]:
    """``node``, whose escaping exceptions never carry a secret into a checkpoint (LangGraph
    stores a failed task's error with the thread)."""

    @functools.wraps(node)
    async def guarded(state: Any, runtime: Any) -> dict[str, Any]:
        try:
            return await node(state, runtime)
        except GraphBubbleUp:  # interrupts and commands are control flow, not failures
            raise
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            if (clean := redact(text)) != text:
                raise RedactedNodeError(clean) from None
            raise

    return guarded


def retry_transient(exc: BaseException) -> bool:
    """The model nodes' RetryPolicy predicate: only transient failures the model layer did not
    retry already (it retries within each call's budget); never 400/401/403/404/422."""
    return is_transient(exc)


class AgentTools(NamedTuple):
    prompt: ChatPromptTemplate
    prompt_version: str
    model: BaseChatModel
    endpoint: ModelEndpoint | None = None
    layout: dict[str, str] | None = None  # the prompt version's rendering (prompts/loader.py)


def spec_json(spec: Spec, layout: dict[str, str] | None) -> str:
    """The specification as the prompt version shows it (never the OCR text: it is fenced
    separately where a template shows it)."""
    if (layout or {}).get("spec") == "compact":  # one line; no nulls, empty lists, spec source
        data = spec.model_dump(mode="json", exclude={"ocr_text"}, exclude_none=True)
        data = {key: value for key, value in data.items() if value != []}
        for test in data.get("tests", []):
            if test.get("source") == "spec":
                del test["source"]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return spec.model_dump_json(indent=2, exclude={"ocr_text"})


async def agent_tools(
    agent: str, config: AutorustConfig, prompt_family: str | None = None
) -> AgentTools:
    """The agent's prompt template (``prompt_family`` when the agent has several tasks, e.g.
    ``vision_confirm``) and chat model, built off the event loop (they read files and set up
    TLS, which would block every other run in the process). A batch's model clients and
    tools are its own (``RunResources.clients``/``tools``, closed with it); a ``--batch-api``
    batch's clients send to the collector in its resources."""
    family = prompt_family or agent
    loop = asyncio.get_running_loop()
    key_env = api_key_for(agent)
    resources = run_resources()
    collector = resources.collector
    key = (
        agent,
        family,
        hash(key_env.get_secret_value()) if key_env else 0,
        config.model_dump_json(),
        collector,
    )
    built = resources.tools if resources.tools is not None else _TOOLS.setdefault(loop, {})
    if (tools := built.get(key)) is not None:  # the common case: no file, no thread hop
        return tools

    def build() -> AgentTools:
        prompt, version = load_prompt(family, config.prompt_versions.get(family))
        model = make_chat_model(
            agent, config, loop=loop, collector=collector, clients=resources.clients
        )
        if resources.tools is not None:  # the batch's own tools: its journal, set once
            model = resources.with_journal(model)
        layout = prompt_layout(family, version)
        return AgentTools(prompt, version, model, endpoint_for(agent, config), layout)

    tools = await asyncio.to_thread(build)
    if len(built) >= TOOLS_PER_LOOP:
        built.pop(next(iter(built)))
    built[key] = tools
    return tools


# built tools per event loop (an HTTP client must not outlive its loop), then per agent,
# prompt family, API key, configuration and --batch-api collector: a batch builds each once
TOOLS_PER_LOOP = 64
_TOOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, AgentTools]] = (
    weakref.WeakKeyDictionary()
)


async def ask_model(
    agent: str,
    tools: AgentTools,
    messages: list[BaseMessage],
    schema: type[T],
    state: RunState,
    config: AutorustConfig,
    **metadata: Any,
) -> tuple[T, ModelCall]:
    """One structured exchange for ``agent`` on this run (regenerations bounded by config).

    Raises ``ModelCallError`` (naming agent, endpoint and model, carrying the usage) when the
    call ends without a valid reply: return ``exc.state_update()`` from the node; a
    ``BudgetExceededError`` when a spending cap stops it before it is sent (llm/budget.py).
    The batch's journal, caps and stop switch come with the run's config (``resources_of``)."""
    resources = run_resources()
    budget = resources.budget
    if budget is None:
        return await _ask(agent, tools, messages, schema, state, config, resources, **metadata)
    endpoint = tools.endpoint
    model = endpoint.model if endpoint is not None else ""
    estimate = estimate_tokens(messages, endpoint.max_tokens if endpoint else None)
    reservation = budget.check(agent, model, list(state.model_calls), estimate)
    call: ModelCall | None = None
    try:
        result = await _ask(agent, tools, messages, schema, state, config, resources, **metadata)
        call = result[1]
        return result
    except ModelCallError as exc:
        call = exc.call
        raise
    finally:
        budget.settle(reservation, call)


async def _ask(
    agent: str,
    tools: AgentTools,
    messages: list[BaseMessage],
    schema: type[T],
    state: RunState,
    config: AutorustConfig,
    resources: RunResources,
    **metadata: Any,
) -> tuple[T, ModelCall]:
    return await invoke_structured(
        tools.model,
        messages,
        schema,
        agent=agent,
        iteration=state.iteration,
        metadata={**call_metadata(state), **metadata},
        max_regenerations=config.max_regenerations,
        endpoint=tools.endpoint,
        memory=StrategyMemory(config.home),
        resources=resources,
    )
