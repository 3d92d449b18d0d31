"""Ask a chat model for a pydantic object; re-ask with the validation error when it is invalid."""

from __future__ import annotations

import time
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from graph.state import ModelCall

T = TypeVar("T", bound=BaseModel)


class InvalidModelOutputError(ValueError):
    """The model kept replying with output that does not fit the schema."""

    def __init__(self, agent: str, schema: str, problems: list[str]) -> None:
        self.agent, self.schema, self.problems = agent, schema, problems
        detail = "; ".join(problems[-2:])
        super().__init__(
            f"{agent} agent: no valid {schema} after {len(problems)} replies ({detail})"
        )


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
    runnable = model.with_structured_output(schema, include_raw=True)
    call = ModelCall(agent=agent, iteration=iteration)
    conversation = list(messages)
    started = time.perf_counter()
    for attempt in range(max_regenerations + 1):
        run_config: RunnableConfig = {
            **(config or {}),
            "metadata": {**metadata, "autorust_agent": agent, "autorust_try": attempt},
            "run_name": f"{agent}-structured",
        }
        out = await runnable.ainvoke(conversation, config=run_config)
        tokens_in, tokens_out, name = _usage(out.get("raw"))
        call.input_tokens += tokens_in
        call.output_tokens += tokens_out
        call.model = name or call.model
        parsed = out.get("parsed")
        if parsed is not None and out.get("parsing_error") is None:
            call.latency_s = round(time.perf_counter() - started, 4)
            return parsed, call
        problem = _problem(out.get("raw"), out.get("parsing_error"))
        call.regenerations.append(problem)
        conversation = [
            *messages,
            HumanMessage(
                f"Your previous reply was rejected: {problem}\n"
                f"Reply again with a complete, valid {schema.__name__} object."
            ),
        ]
    raise InvalidModelOutputError(agent, schema.__name__, call.regenerations)
