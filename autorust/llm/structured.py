"""Ask a chat model for a pydantic object.

- Transient HTTP failures (429 with ``retry-after``, 5xx, timeouts, connection errors) are
  retried by the OpenAI client itself (``max_retries``, exponential backoff with jitter); each
  retry is traced into the call's ``ModelCall`` and the log.
- An invalid reply (schema violation, truncated JSON, empty reply, refusal) is re-asked with
  the validation error in the prompt, at most ``max_regenerations`` times; then
  ``InvalidModelOutputError`` names the agent and what was wrong, carrying the ``ModelCall`` so
  the failure is recorded in state.
- Rejected credentials become ``ModelAuthError`` without the provider's text (which may echo a
  part of the key).
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any, TypeVar

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from langgraph.config import get_config
from pydantic import BaseModel, ValidationError

from autorust.graph.state import ModelCall

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("autorust.model")
_TRACE: ContextVar[list[str] | None] = ContextVar("autorust_http_trace", default=None)


class InvalidModelOutputError(ValueError):
    """The model kept replying with output that does not fit the schema."""

    def __init__(self, agent: str, schema: str, call: ModelCall) -> None:
        self.agent, self.schema, self.call = agent, schema, call
        detail = "; ".join(call.regenerations[-2:])
        super().__init__(
            f"{agent} agent: no valid {schema} after {len(call.regenerations)} replies ({detail})"
        )

    def state_update(self) -> dict[str, Any]:
        """End the run as an error, keeping the exchange (and its usage) in state."""
        return {"status": "error", "error": str(self), "model_calls": [self.call]}


class ModelAuthError(RuntimeError):
    pass


class _HttpTrace(logging.Handler):
    """Notes the OpenAI client's retries and failed HTTP statuses for the current call."""

    def emit(self, record: logging.LogRecord) -> None:
        trace = _TRACE.get()
        if trace is None:
            return
        message = record.getMessage()
        if record.name.startswith("openai") and message.startswith("Retrying request"):
            trace.append("retry")
        elif record.name.startswith("httpx") and "HTTP Request" in message:
            status = message.rsplit('"', 2)[-2].split()
            if len(status) >= 2 and status[1].isdigit() and int(status[1]) >= 400:
                trace.append(f"HTTP {status[1]}")


def _install_trace() -> None:
    for name in ("openai._base_client", "httpx", "httpx2"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _HttpTrace) for h in logger.handlers):
            logger.addHandler(_HttpTrace())
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))


_install_trace()


def _problem(raw: Any, error: BaseException | None) -> str:
    if isinstance(raw, AIMessage) and getattr(raw, "additional_kwargs", {}).get("refusal"):
        return f"the model refused: {raw.additional_kwargs['refusal']}"
    if error is None:
        return "empty reply"
    return f"{type(error).__name__}: {str(error)[:600]}"


def _usage(raw: Any) -> tuple[int, int, str]:
    if not isinstance(raw, AIMessage):
        return 0, 0, ""
    usage = raw.usage_metadata or {}
    name = (raw.response_metadata or {}).get("model_name", "")
    return usage.get("input_tokens", 0), usage.get("output_tokens", 0), name


def _structured(model: BaseChatModel, schema: type[BaseModel]) -> Any:
    """The model asked for JSON of ``schema``; parsing stays on our side.

    For ChatOpenAI we pass the JSON schema as a dict (``response_format`` json_schema, not
    strict: OpenAI-compatible servers differ in what strict schemas they accept) so the SDK does
    not parse the reply itself: a reply that fails validation then still arrives with its token
    usage, and is re-asked like any other invalid reply.
    """
    key = (id(model), schema)
    if (found := _STRUCTURED.get(key)) is not None and found[0] is model:
        return found[1]  # building it (JSON schema, tool spec) costs ms per call
    if isinstance(model, ChatOpenAI):
        runnable = model.with_structured_output(
            schema.model_json_schema(), method="json_schema", include_raw=True
        )
    else:
        runnable = model.with_structured_output(schema, include_raw=True)
    _STRUCTURED[key] = (model, runnable)
    return runnable


_STRUCTURED: dict[tuple[int, type[BaseModel]], tuple[BaseChatModel, Any]] = {}


def _thread_id() -> str | None:
    try:
        return get_config()["configurable"].get("thread_id")
    except RuntimeError:  # called outside a graph run
        return None


def _record_trace(call: ModelCall, trace: list[str]) -> None:
    retries = trace.count("retry")
    statuses = [item for item in trace if item.startswith("HTTP")]
    call.retries += retries
    call.transient_errors += statuses + ["timeout or connection error"] * max(
        0, retries - len(statuses)
    )


async def invoke_structured(
    model: BaseChatModel,
    messages: list[BaseMessage],
    schema: type[T],
    *,
    agent: str,
    iteration: int,
    metadata: dict[str, Any],
    max_regenerations: int = 2,
    config: RunnableConfig | None = None,
) -> tuple[T, ModelCall]:
    runnable = _structured(model, schema)
    call = ModelCall(agent=agent, iteration=iteration)
    conversation = list(messages)
    started = time.perf_counter()
    context = {"thread_id": _thread_id(), "agent": agent, "iteration": iteration}
    for attempt in range(max_regenerations + 1):
        run_config: RunnableConfig = {
            **(config or {}),
            "metadata": {**metadata, "autorust_agent": agent, "autorust_try": attempt},
            "run_name": f"{agent}-structured",
        }
        trace: list[str] = []
        token = _TRACE.set(trace)
        try:
            out = await runnable.ainvoke(conversation, config=run_config)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ModelAuthError(
                f"{agent} agent: the model endpoint rejected the credentials (HTTP "
                f"{exc.status_code}); check OPENAI_API_KEY / AUTORUST_API_KEY / "
                f"AUTORUST_{agent.upper()}_API_KEY and the endpoint URL"
            ) from None
        finally:
            _TRACE.reset(token)
            _record_trace(call, trace)
        tokens_in, tokens_out, name = _usage(out.get("raw"))
        call.input_tokens += tokens_in
        call.output_tokens += tokens_out
        call.model = name or call.model
        parsed, error = out.get("parsed"), out.get("parsing_error")
        if isinstance(parsed, dict):
            try:
                parsed = schema.model_validate(parsed)
            except ValidationError as exc:
                parsed, error = None, exc
        if parsed is not None and error is None:
            call.latency_s = round(time.perf_counter() - started, 4)
            log.info(
                "model call ok",
                extra={**context, "attempt": attempt, "latency_s": call.latency_s,
                       "input_tokens": call.input_tokens, "output_tokens": call.output_tokens,
                       "retries": call.retries, "regenerations": len(call.regenerations)},
            )  # fmt: skip
            return parsed, call
        problem = _problem(out.get("raw"), error)
        call.regenerations.append(problem)
        log.warning(
            f"invalid reply, regenerating: {problem}", extra={**context, "attempt": attempt}
        )
        conversation = [
            *messages,
            HumanMessage(
                f"Your previous reply was rejected: {problem}\n"
                f"Reply again with a complete, valid {schema.__name__} object."
            ),
        ]
    call.latency_s = round(time.perf_counter() - started, 4)
    error = InvalidModelOutputError(agent, schema.__name__, call)
    log.error(str(error), extra={**context, "status": "error"})
    raise error
