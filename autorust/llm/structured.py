"""Ask a chat model for a pydantic object: one bounded call, whatever the endpoint supports.

- The request asks for JSON by the agent's structured-output strategy (``strategies.py``); with
  ``auto`` a strategy the endpoint rejects (400/422/500 naming ``response_format``,
  ``json_schema`` or ``tools``) is replaced at once by the next one, and the one that works is
  remembered per endpoint + model in the run home (``strategy_memory.py``).
  A strategy is remembered only once one of its replies validated (a server that ignores
  ``response_format`` answers 200 whatever it is sent).
- Transient failures (429 honouring ``retry-after``, other 5xx, timeouts, dropped connections,
  a 200 whose body is not JSON or has no ``choices``) are retried here with exponential
  backoff and jitter: at most ``max_retries`` times and never past the call's budget
  (``call_budget_s``, default 180 s, which bounds every request's timeout too). Deterministic
  failures (400, 404, 422) end the call at once; a context-length 400 is named as such; a 400
  rejecting ``temperature`` (reasoning models) or ``max_tokens`` is resent once without it.
  Billing/quota (429 ``insufficient_quota``) and credential errors are never retried and stop
  a batch once (``batch_stop.py``).
- Replies that are complete but unusable are classified, never retried blindly: a refusal is
  re-asked once naming it, a reply cut at the token limit (``finish_reason: length``, also
  ``content: null`` from a reasoning model that spent its budget) once with twice the budget,
  an empty reply resent once; a second one of the same kind ends the call saying what happened.
- Every reply is validated on our side; an invalid one (schema violation, truncated JSON) is
  re-asked with the problem and the schema restated, at most ``max_regenerations`` times. A
  reply over the agent's size cap (``max_reply_chars``) is refused at once.
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

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langchain_openai.chat_models.base import BaseChatOpenAI
from langgraph.config import get_config
from pydantic import BaseModel, ValidationError

from autorust import telemetry
from autorust.graph.state import ModelCall
from autorust.llm.batch_transport import BATCH_WINDOW_S
from autorust.llm.conversation import reask
from autorust.llm.errors import (
    InvalidModelOutputError,
    ModelAccountError,
    ModelAuthError,
    ModelCallError,
    ModelContextLengthError,
    ModelQuotaError,
    ModelRequestError,
    ModelUnavailableError,
    body_text,
    is_context_length_error,
    is_quota_error,
    rejected_max_tokens,
    rejected_temperature,
    server_text,
    status_of,
    transient_reason,
)
from autorust.llm.http_trace import HttpTrace, start_trace, stop_trace
from autorust.llm.images import fit_images, has_images
from autorust.llm.models import ModelEndpoint
from autorust.llm.replies import ReplyIssue, classify, echo_of, reply_chars
from autorust.llm.resources import NO_RESOURCES, RunResources
from autorust.llm.strategies import (
    ReplyProblem,
    Strategy,
    candidates,
    is_rejection,
    prepare,
    reply_json,
    statement_for,
)
from autorust.llm.strategy_memory import StrategyMemory
from autorust.redaction import redact

__all__ = [
    "InvalidModelOutputError",
    "ModelAccountError",
    "ModelAuthError",
    "ModelCallError",
    "ModelContextLengthError",
    "ModelQuotaError",
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
        resources: RunResources = NO_RESOURCES,
    ) -> None:
        self.resources = resources
        self.model, self.schema, self.endpoint = resources.with_journal(model), schema, endpoint
        self.memory = memory
        self.call, self.context = call, context
        self.started = time.monotonic()
        self.deadline = self.started + endpoint.call_budget_s
        if resources.collector is not None:  # a provider batch answers within 24 h, not 180 s
            self.deadline = self.started + max(endpoint.call_budget_s, BATCH_WINDOW_S)
        self.http = isinstance(model, BaseChatOpenAI)
        self.server_said = ""  # the last error status and excerpt, for the final message
        self.token_param = endpoint.token_param
        self.max_tokens = endpoint.max_tokens  # raised after a reply cut at the limit
        self.adjusted: set[str] = set()  # request fields dropped or renamed after a 400

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def finish(self) -> None:
        self.call.latency_s = round(time.monotonic() - self.started, 4)

    async def strategies(self) -> list[Strategy]:
        remembered = None
        if self.memory is not None and self.endpoint.structured_output == "auto" and self.http:
            where = (self.endpoint.base_url, self.endpoint.model)
            known, remembered = self.memory.recall(*where)  # the file unchanged: not read again
            if not known:
                remembered = await asyncio.to_thread(self.memory.get, *where)
        return candidates(self.endpoint.structured_output, remembered)

    async def remember(self, strategy: Strategy) -> None:
        if self.memory is None or self.endpoint.structured_output != "auto" or not self.http:
            return
        where = (self.endpoint.base_url, self.endpoint.model)
        if self.memory.recall(*where) == (True, strategy):  # already there: nothing to write
            return
        await asyncio.to_thread(self.memory.remember, *where, strategy)

    def _account(self, trace: HttpTrace, message: Any) -> None:
        if trace.exchanges:  # what the server reported, reply by reply
            self.call.input_tokens += sum(e.input_tokens for e in trace.exchanges)
            self.call.output_tokens += sum(e.output_tokens for e in trace.exchanges)
            self.call.cached_input_tokens += sum(e.cached_tokens for e in trace.exchanges)
        elif isinstance(message, AIMessage) and message.usage_metadata:
            self.call.input_tokens += message.usage_metadata.get("input_tokens", 0)
            self.call.output_tokens += message.usage_metadata.get("output_tokens", 0)
            details = message.usage_metadata.get("input_token_details") or {}
            self.call.cached_input_tokens += int(details.get("cache_read") or 0)
        if isinstance(message, AIMessage):
            self.call.model = (message.response_metadata or {}).get("model_name") or self.call.model

    async def send(
        self, strategy: Strategy, conversation: list[BaseMessage], config: RunnableConfig
    ) -> tuple[AIMessage | None, HttpTrace, BaseException | None]:
        if not self.endpoint.offline and has_images(conversation):
            conversation = await asyncio.to_thread(fit_images, conversation, self.endpoint.images)
        runnable, to_send = prepare(
            self.model, strategy, self.schema, conversation, self.endpoint.options
        )
        remaining = self.remaining()
        if self.http:
            runnable = runnable.bind(
                timeout=max(0.1, min(self.endpoint.timeout_s, remaining)), **self.cap()
            )
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

    def cap(self) -> dict[str, Any]:
        """The reply cap as the server reads it, when it differs from the client's own."""
        endpoint = self.endpoint
        same = (self.max_tokens, self.token_param) == (endpoint.max_tokens, endpoint.token_param)
        if self.max_tokens is None or same:
            return {}
        if self.token_param == "max_tokens":
            return {"extra_body": {"max_tokens": self.max_tokens}}
        return {"max_completion_tokens": self.max_tokens, "extra_body": None}

    def adjust(self, status: int | None, body: str) -> str | None:
        """Drop or rename a request field the model rejected (once each); what was done."""
        if not isinstance(self.model, BaseChatOpenAI):
            return None
        if rejected_temperature(status, body) and "temperature" not in self.adjusted:
            self.adjusted.add("temperature")
            self.model = self.model.model_copy(update={"temperature": None})
            return (
                "the model rejects temperature (a reasoning model?): resending without it; "
                f"set AUTORUST_{self.endpoint.agent.upper()}__MODEL_FAMILY=reasoning to skip this"
            )
        if rejected_max_tokens(status, body) and "max_tokens" not in self.adjusted:
            self.adjusted.add("max_tokens")
            self.token_param = "max_completion_tokens"
            self.max_tokens = self.max_tokens or self.endpoint.max_tokens
            self.model = self.model.model_copy(update={"extra_body": None})
            return "the model rejects max_tokens: resending the cap as max_completion_tokens"
        return None

    def raise_budget(self, output_tokens: int) -> None:
        """Twice the cap (or twice what the cut reply used when no cap was set)."""
        current = self.max_tokens or max(output_tokens, 512)
        self.max_tokens = current * 2

    def error(self, cls: type[ModelCallError], what: str, *, quiet: bool = False) -> ModelCallError:
        self.finish()
        error = cls(f"{self.endpoint.describe()}: {what}", self.call)
        level = logging.DEBUG if quiet else logging.ERROR
        log.log(level, str(error), extra={**self.context, "status": "error"})
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
    resources: RunResources = NO_RESOURCES,
) -> tuple[T, ModelCall]:
    """One validated reply of ``schema`` (see the module's docstring); traced as a GenAI
    ``chat`` span carrying the same token counts as the returned ``ModelCall``."""
    endpoint = endpoint or ModelEndpoint(
        agent=agent,
        model=str(getattr(model, "model_name", None) or type(model).__name__),
        offline=not isinstance(model, BaseChatOpenAI),
    )
    with telemetry.span(
        f"chat {endpoint.model}",
        gen_ai__operation__name="chat",
        gen_ai__request__model=endpoint.model,
        gen_ai__agent__name=agent,
        gen_ai__provider__name=endpoint.server,
        autorust__iteration=iteration,
    ) as span:
        call: ModelCall | None = None
        try:
            parsed, call = await _invoke_structured(
                model, messages, schema, agent=agent, iteration=iteration, metadata=metadata,
                max_regenerations=max_regenerations, config=config, endpoint=endpoint,
                memory=memory, resources=resources,
            )  # fmt: skip
            return parsed, call
        except ModelCallError as exc:
            call = exc.call
            raise
        finally:
            if call is not None:
                telemetry.annotate(
                    span,
                    gen_ai__usage__input_tokens=call.input_tokens,
                    gen_ai__usage__output_tokens=call.output_tokens,
                    gen_ai__response__model=call.model or None,
                    autorust__retries=call.retries,
                    autorust__regenerations=len(call.regenerations),
                    autorust__structured_output=call.structured_output or None,
                )


async def _invoke_structured(
    model: BaseChatModel,
    messages: list[BaseMessage],
    schema: type[T],
    *,
    agent: str,
    iteration: int,
    metadata: dict[str, Any],
    max_regenerations: int,
    config: RunnableConfig | None,
    endpoint: ModelEndpoint,
    memory: StrategyMemory | None,
    resources: RunResources,
) -> tuple[T, ModelCall]:
    context = {"thread_id": _thread_id(), "agent": agent, "iteration": iteration}
    current = _Call(
        model, schema, endpoint, memory, ModelCall(agent=agent, iteration=iteration), context,
        resources,
    )  # fmt: skip
    call = current.call
    stop = resources.stop
    if stop is not None and stop.reason is not None:  # said once, by the batch
        raise current.error(
            ModelAccountError, f"not sent: the batch stopped ({stop.reason})", quiet=True
        )
    strategies = await current.strategies()
    index = 0
    reasks: list[BaseMessage] = []  # assistant/user pairs: each rejected reply, what was wrong
    issues: dict[str, int] = {}  # classified replies (refusal, length, filtered, empty) so far
    while True:
        if current.remaining() <= 0:
            raise current.error(
                ModelUnavailableError,
                f"the {endpoint.call_budget_s:.0f} s call budget is spent "
                f"(AUTORUST_{agent.upper()}__CALL_BUDGET_S); a rerun retries this item",
            )
        strategy = strategies[index]
        call.structured_output = strategy.value
        runnable_config: RunnableConfig = {
            **(config or {}),
            "metadata": {
                **metadata,
                "autorust_agent": agent,
                "autorust_try": len(call.regenerations),
                "autorust_structured_output": strategy.value,
            },
            "run_name": f"{agent}-structured",
        }
        message, trace, exc = await current.send(strategy, [*messages, *reasks], runnable_config)
        last = trace.last
        issue = classify(exc, message, last)
        if exc is not None and issue is None:
            status, body = status_of(exc), body_text(exc)
            if status is not None:
                current.server_said = f"HTTP {status}: {server_text(body)}"
            if (done := current.adjust(status, body)) is not None:
                log.warning(f"{endpoint.describe()}: {done}", extra=context)
                continue
            if is_quota_error(status, body):
                raise account_error(
                    current,
                    ModelQuotaError,
                    f"the account is out of quota or credit (HTTP {status}: "
                    f"{server_text(body)}); not retried: check the plan and billing",
                )
            if status in (401, 403):
                raise account_error(
                    current,
                    ModelAuthError,
                    f"the endpoint rejected the credentials (HTTP {status}); check "
                    f"OPENAI_API_KEY / AUTORUST_API_KEY / AUTORUST_{agent.upper()}_API_KEY and "
                    "the endpoint URL",
                )
            if is_context_length_error(status, body):
                raise current.error(
                    ModelContextLengthError,
                    f"the request is longer than the model's context window (HTTP {status}: "
                    f"{server_text(body)}); use a model with a longer context or a server "
                    "started with a larger one",
                )
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
            reason = transient_reason(exc)
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

        try:
            if issue is not None:
                raise issue
            assert message is not None
            if (size := reply_chars(message)) > endpoint.max_reply_chars:
                raise current.error(
                    InvalidModelOutputError,
                    f"the {agent} agent's reply is {size:,} characters, over its "
                    f"{endpoint.max_reply_chars:,}-character cap (AUTORUST_{agent.upper()}"
                    "__MAX_REPLY_CHARS); it was not used",
                )
            candidate = reply_json(message)
            parsed = schema.model_validate(candidate)
        except ReplyIssue as found:
            issues[found.kind] = issues.get(found.kind, 0) + 1
            if issues[found.kind] > 1:
                final = found.final(agent, current.max_tokens)
                raise current.error(InvalidModelOutputError, final) from None
            if found.kind == "empty":
                await current.wait_before_retry(str(found), None)
                continue
            if found.kind == "length":
                current.raise_budget(last.output_tokens if last else 0)
            problem = found.reask()
        except ReplyProblem as problem_exc:
            problem = str(problem_exc)
        except ValidationError as validation_exc:
            problem = validation_problem(validation_exc)
        else:
            await current.remember(strategy)  # only a strategy whose reply validated
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
        statement = statement_for(strategy, schema, endpoint.options)
        reasks += reask(echo_of(message, issue), problem, statement)


def account_error(current: _Call, cls: type[ModelCallError], what: str) -> ModelCallError:
    """A billing or credentials error: raised, and the batch (if any) stops, saying so once
    (calls that were in flight when it stopped fail quietly with the same error)."""
    stop = current.resources.stop
    error = current.error(cls, what, quiet=stop is not None)
    if stop is not None:
        stop.trip(str(error))
    return error
