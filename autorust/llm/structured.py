"""Ask a chat model for a pydantic object: one bounded call, whatever the endpoint supports.

- The request asks for JSON by the agent's structured-output strategy (``strategies.py``); with
  ``auto`` a strategy the endpoint rejects (400/422/500 naming ``response_format``,
  ``json_schema`` or ``tools``) is replaced at once by the next one, and the one that works is
  remembered per endpoint + model in the run home (``strategy_memory.py``).
- Transient failures (429 honouring ``retry-after``, other 5xx, timeouts, dropped connections,
  a 200 whose body is not JSON, has no ``choices`` or no content) are retried here with
  exponential backoff and jitter: at most ``max_retries`` times and never past the call's
  budget (``call_budget_s``, default 180 s, which bounds every request's timeout too).
  Deterministic failures (400, 404, 422, rejected credentials) end the call at once.
- Every reply is validated on our side; an invalid one (schema violation, truncated JSON,
  ``finish_reason=length``, a refusal) is re-asked with the problem, at most
  ``max_regenerations`` times.
- Every reply's usage counts, read by an httpx hook from what the server reported (rejected
  and regenerated replies, and those of a call that finally failed: the error carries the
  ``ModelCall``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, TypeVar

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from langgraph.config import get_config
from pydantic import BaseModel, ValidationError

from autorust.graph.state import ModelCall
from autorust.llm.errors import (
    InvalidModelOutputError,
    ModelAuthError,
    ModelCallError,
    ModelRequestError,
    ModelUnavailableError,
    body_text,
    server_text,
    status_of,
    transient_reason,
)
from autorust.llm.http_trace import HttpTrace, start_trace, stop_trace
from autorust.llm.models import ModelEndpoint
from autorust.llm.strategies import (
    FILTERED,
    TRUNCATED,
    ReplyProblem,
    Strategy,
    candidates,
    is_rejection,
    prepare,
    reply_json,
)
from autorust.llm.strategy_memory import StrategyMemory
from autorust.redaction import redact

__all__ = [
    "InvalidModelOutputError",
    "ModelAuthError",
    "ModelCallError",
    "ModelRequestError",
    "ModelUnavailableError",
    "invoke_structured",
]

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("autorust.model")
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
PROBLEM_CHARS = 600


def _thread_id() -> str | None:
    try:
        return get_config()["configurable"].get("thread_id")
    except RuntimeError:  # called outside a graph run
        return None


def backoff_s(retry: int, retry_after: float | None) -> float:
    """The server's ``retry-after`` if it gave one, else 0.5 s x 2^n with jitter (cap 30 s)."""
    if retry_after is not None:
        return retry_after
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry) * random.uniform(0.5, 1.0)


def finished_early(exc: BaseException | None) -> ReplyProblem | None:
    """The SDK's own complaints about a complete reply (it raises them for ``response_format``
    requests): truncated at the token limit, or blocked by a content filter."""
    if isinstance(exc, openai.LengthFinishReasonError):
        return ReplyProblem(TRUNCATED)
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return ReplyProblem(FILTERED)
    return None


def validation_problem(exc: ValidationError) -> str:
    """``schema violation: tests.0.expected: Field required; score: ...`` (no echoed input)."""
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'object'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return f"schema violation ({exc.error_count()} errors): " + "; ".join(parts)


class _Call:
    """One structured call in progress: its budget, strategy, ledger and log context."""

    def __init__(
        self,
        model: BaseChatModel,
        schema: type[BaseModel],
        endpoint: ModelEndpoint,
        memory: StrategyMemory | None,
        call: ModelCall,
        context: dict[str, Any],
    ) -> None:
        self.model, self.schema, self.endpoint, self.memory = model, schema, endpoint, memory
        self.call, self.context = call, context
        self.started = time.monotonic()
        self.deadline = self.started + endpoint.call_budget_s
        self.http = isinstance(model, ChatOpenAI)
        self.server_said = ""  # the last error status and excerpt, for the final message

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def finish(self) -> None:
        self.call.latency_s = round(time.monotonic() - self.started, 4)

    async def strategies(self) -> list[Strategy]:
        remembered = None
        if self.memory is not None and self.endpoint.structured_output == "auto" and self.http:
            remembered = await asyncio.to_thread(
                self.memory.get, self.endpoint.base_url, self.endpoint.model
            )
        return candidates(self.endpoint.structured_output, remembered)

    async def remember(self, strategy: Strategy) -> None:
        if self.memory is None or self.endpoint.structured_output != "auto" or not self.http:
            return
        await asyncio.to_thread(
            self.memory.remember, self.endpoint.base_url, self.endpoint.model, strategy
        )

    def _account(self, trace: HttpTrace, message: Any) -> None:
        if trace.exchanges:  # what the server reported, reply by reply
            self.call.input_tokens += sum(e.input_tokens for e in trace.exchanges)
            self.call.output_tokens += sum(e.output_tokens for e in trace.exchanges)
        elif isinstance(message, AIMessage) and message.usage_metadata:
            self.call.input_tokens += message.usage_metadata.get("input_tokens", 0)
            self.call.output_tokens += message.usage_metadata.get("output_tokens", 0)
        if isinstance(message, AIMessage):
            self.call.model = (message.response_metadata or {}).get("model_name") or self.call.model

    async def send(
        self, strategy: Strategy, conversation: list[BaseMessage], config: RunnableConfig
    ) -> tuple[AIMessage | None, HttpTrace, BaseException | None]:
        runnable, to_send = prepare(self.model, strategy, self.schema, conversation)
        remaining = self.remaining()
        if self.http:
            runnable = runnable.bind(timeout=max(0.1, min(self.endpoint.timeout_s, remaining)))
        trace, token = start_trace()
        message: Any = None
        try:
            async with asyncio.timeout(remaining + 1.0):
                message = await runnable.ainvoke(to_send, config=config)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return None, trace, exc
        finally:
            stop_trace(token)
            self._account(trace, message)
        return message, trace, None

    def error(self, cls: type[ModelCallError], what: str) -> ModelCallError:
        self.finish()
        error = cls(f"{self.endpoint.describe()}: {what}", self.call)
        log.error(str(error), extra={**self.context, "status": "error"})
        return error

    async def wait_before_retry(self, reason: str, retry_after: float | None) -> None:
        """Sleep before the next try, or raise when retries or the budget are used up."""
        self.call.transient_errors.append(reason)
        retries = self.call.retries
        delay = backoff_s(retries, retry_after)
        spent = time.monotonic() - self.started
        if retries >= self.endpoint.max_retries or delay >= self.remaining() - 0.5:
            limit = (
                f"{retries} retries"
                if retries >= self.endpoint.max_retries
                else f"a {self.endpoint.call_budget_s:.0f} s call budget "
                f"(AUTORUST_{self.endpoint.agent.upper()}__CALL_BUDGET_S)"
            )
            said = f"; last error {self.server_said}" if self.server_said else ""
            raise self.error(
                ModelUnavailableError,
                f"the endpoint kept failing ({', '.join(self.call.transient_errors[-3:])}); "
                f"gave up after {limit}, {spent:.0f} s in{said}; a rerun retries this item",
            )
        self.call.retries += 1
        log.warning(
            f"{self.endpoint.describe()}: {reason}, retry {retries + 1} in {delay:.1f}s",
            extra={**self.context, "retries": self.call.retries},
        )
        await asyncio.sleep(delay)


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
    endpoint: ModelEndpoint | None = None,
    memory: StrategyMemory | None = None,
) -> tuple[T, ModelCall]:
    endpoint = endpoint or ModelEndpoint(
        agent=agent,
        model=str(getattr(model, "model_name", None) or type(model).__name__),
        offline=not isinstance(model, ChatOpenAI),
    )
    context = {"thread_id": _thread_id(), "agent": agent, "iteration": iteration}
    current = _Call(
        model, schema, endpoint, memory, ModelCall(agent=agent, iteration=iteration), context
    )
    call = current.call
    strategies = await current.strategies()
    index = 0
    conversation = list(messages)
    while True:
        if current.remaining() <= 0:
            raise current.error(
                ModelUnavailableError,
                f"the {endpoint.call_budget_s:.0f} s call budget is spent "
                f"(AUTORUST_{agent.upper()}__CALL_BUDGET_S); a rerun retries this item",
            )
        strategy = strategies[index]
        call.structured_output = strategy.value
        run_config: RunnableConfig = {
            **(config or {}),
            "metadata": {
                **metadata,
                "autorust_agent": agent,
                "autorust_try": len(call.regenerations),
                "autorust_structured_output": strategy.value,
            },
            "run_name": f"{agent}-structured",
        }
        message, trace, exc = await current.send(strategy, conversation, run_config)
        last = trace.last
        cut_off = finished_early(exc)
        if exc is not None and cut_off is None:
            status, body = status_of(exc), body_text(exc)
            if is_rejection(strategy, status, body):
                what = f"structured output '{strategy}' (HTTP {status}: {server_text(body)})"
                if index + 1 < len(strategies):
                    index += 1
                    log.warning(
                        f"{endpoint.describe()}: the endpoint rejected {what}; "
                        f"trying '{strategies[index]}'",
                        extra=context,
                    )
                    continue
                raise current.error(
                    ModelRequestError,
                    f"the endpoint rejected {what}; set AUTORUST_{agent.upper()}"
                    "__STRUCTURED_OUTPUT to auto or to a strategy it supports",
                )
            if status in (401, 403):
                raise current.error(
                    ModelAuthError,
                    f"the endpoint rejected the credentials (HTTP {status}); check "
                    f"OPENAI_API_KEY / AUTORUST_API_KEY / AUTORUST_{agent.upper()}_API_KEY and "
                    "the endpoint URL",
                )
            reason = transient_reason(exc)
            if status is not None:
                current.server_said = f"HTTP {status}: {server_text(body)}"
            if reason is None and last is not None and last.status == 200 and last.problem:
                reason = last.problem  # e.g. empty choices: the client library chokes on it
            if reason is None:
                if status is not None:
                    raise current.error(
                        ModelRequestError,
                        f"the endpoint rejected the request (HTTP {status}: {server_text(body)})",
                    )
                raise exc  # not an endpoint failure (e.g. no scripted reply): the caller's
            await current.wait_before_retry(reason, last.retry_after_s if last else None)
            continue

        await current.remember(strategy)
        try:
            if cut_off is not None:
                raise cut_off
            if last is not None and last.problem:
                raise ReplyProblem(last.problem, empty=True)
            assert message is not None
            candidate = reply_json(message)
            parsed = schema.model_validate(candidate)
        except ReplyProblem as problem_exc:
            if problem_exc.empty:
                await current.wait_before_retry(str(problem_exc), None)
                continue
            problem = str(problem_exc)
        except ValidationError as validation_exc:
            problem = validation_problem(validation_exc)
        else:
            current.finish()
            log.info(
                "model call ok",
                extra={**context, "attempt": len(call.regenerations), "latency_s": call.latency_s,
                       "input_tokens": call.input_tokens, "output_tokens": call.output_tokens,
                       "retries": call.retries, "regenerations": len(call.regenerations)},
            )  # fmt: skip
            return parsed, call  # type: ignore[return-value]

        problem = redact(problem[:PROBLEM_CHARS])
        call.regenerations.append(problem)
        if len(call.regenerations) > max_regenerations:
            detail = "; ".join(call.regenerations[-2:])
            raise current.error(
                InvalidModelOutputError,
                f"no valid {schema.__name__} after {len(call.regenerations)} replies ({detail})",
            )
        log.warning(
            f"invalid reply, regenerating: {problem}",
            extra={**context, "attempt": len(call.regenerations)},
        )
        conversation = [
            *messages,
            HumanMessage(
                f"Your previous reply was rejected: {problem}\n"
                f"Reply again with a complete, valid {schema.__name__} object."
            ),
        ]
