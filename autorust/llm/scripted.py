"""A chat model that replays scripted replies from files: the offline stand-in for a real model.

Replies live in ``<replies_dir>/<image-stem>.yaml``::

    vision:  [ {spec fields} ]                  # one entry per iteration (the last one repeats)
    coding:  [ {code attempt 1}, {code attempt 2} ]
    checker: [ {review 1}, {review 2} ]
    vision_confirm: [ {confirmation} ]          # the vision agent re-reading disputed tests

A call whose metadata names an ``autorust_task`` gets the ``<agent>_<task>`` list.

An optional ``<replies_dir>/_delays.yaml`` (``{coding: 0.5, vision: 0.1}``) makes each agent's
replies take that many seconds, to simulate model latency in demos, tests and benchmarks.

An entry may also be ``{tries: [reply, reply, ...]}``: the n-th regeneration after an invalid
reply gets the n-th item. Which reply to give is read from the call's metadata
(``autorust_image``, ``autorust_iteration``, ``autorust_try``), never from a hidden counter, so a
resumed or forked run replays exactly what an uninterrupted run would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

SCRIPTED_MODEL_NAME = "scripted (offline replay, not a real model)"


class ScriptMissingError(LookupError):
    pass


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
_SCRIPTS: dict[tuple[Path, int], dict[str, Any]] = {}  # (path, mtime_ns) -> parsed file


def _load_script(path: Path, mtime_ns: int) -> dict[str, Any]:
    key = (path, mtime_ns)
    if key not in _SCRIPTS:
        _SCRIPTS[key] = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
    return _SCRIPTS[key]


def _script_path(replies_dir: Path, image: str) -> Path:
    return replies_dir / f"{image}.yaml"


def _script_for(replies_dir: Path, image: str) -> dict[str, Any]:
    path = _script_path(replies_dir, image)
    if not path.is_file():
        raise ScriptMissingError(
            f"no scripted replies for image {image!r}: expected {path}. The scripted provider "
            "only replays prepared replies; configure a real model for new images."
        )
    return _load_script(path, path.stat().st_mtime_ns)


def _is_parsed(replies_dir: Path, metadata: dict[str, Any]) -> bool:
    path = _script_path(replies_dir, str(metadata.get("autorust_image")))
    try:
        return (path, path.stat().st_mtime_ns) in _SCRIPTS
    except OSError:
        return False


def _delay_for(replies_dir: Path, agent: str) -> float:
    path = replies_dir / "_delays.yaml"
    if not path.is_file():
        return 0.0
    return float(_load_script(path, path.stat().st_mtime_ns).get(agent, 0.0))


def _rough_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedChatModel(BaseChatModel):
    replies_dir: Path
    agent: str
    tool_name: str | None = None

    @property
    def _llm_type(self) -> str:
        return "autorust-scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        name = convert_to_openai_tool(tools[0])["function"]["name"] if tools else None
        return self.model_copy(update={"tool_name": name})

    def _pick_reply(self, metadata: dict[str, Any]) -> Any:
        image = metadata.get("autorust_image")
        if not image:
            raise ScriptMissingError("scripted model called without autorust_image metadata")
        task = metadata.get("autorust_task")
        key = f"{self.agent}_{task}" if task else self.agent  # e.g. vision_confirm
        replies = _script_for(self.replies_dir, image).get(key)
        if not replies:
            raise ScriptMissingError(f"scripted replies for {image!r} have no {key!r} list")
        entry = replies[min(int(metadata.get("autorust_iteration", 0)), len(replies) - 1)]
        if isinstance(entry, dict) and set(entry) == {"tries"}:
            tries = entry["tries"]
            entry = tries[min(int(metadata.get("autorust_try", 0)), len(tries) - 1)]
        return entry

    def _reply_for(self, messages: list[BaseMessage], metadata: dict[str, Any]) -> Any:
        """The reply to give (the script's; a test double may look at the messages)."""
        return self._pick_reply(metadata)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply_for(messages, run_manager.metadata if run_manager else {})
        text = reply if isinstance(reply, str) else json.dumps(reply)
        prompt_text = "".join(m.text for m in messages)  # text parts only, not image data
        usage = {
            "input_tokens": _rough_tokens(prompt_text),
            "output_tokens": _rough_tokens(text),
            "total_tokens": _rough_tokens(prompt_text) + _rough_tokens(text),
        }
        if self.tool_name and isinstance(reply, dict):
            message = AIMessage(
                content="",
                tool_calls=[
                    {"name": self.tool_name, "args": reply, "id": f"call_{uuid.uuid4().hex[:12]}"}
                ],
                usage_metadata=usage,
                response_metadata={"model_name": SCRIPTED_MODEL_NAME},
            )
        else:
            message = AIMessage(
                content=text,
                usage_metadata=usage,
                response_metadata={"model_name": SCRIPTED_MODEL_NAME},
            )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if delay := _delay_for(self.replies_dir, self.agent):
            await asyncio.sleep(delay)
        if _is_parsed(self.replies_dir, run_manager.metadata if run_manager else {}):
            return self._generate(messages, stop, run_manager, **kwargs)  # type: ignore[arg-type]
        # the script file is read and parsed from disk: keep that off the event loop
        return await asyncio.to_thread(self._generate, messages, stop, run_manager, **kwargs)  # type: ignore[arg-type]
