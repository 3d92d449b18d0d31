"""A run that crashed mid-way resumes from its SQLite checkpoint without redoing finished nodes."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.callbacks import BaseCallbackHandler

from autorust.graph.context import AutorustConfig
from autorust.llm.scripted import ScriptedChatModel, ScriptMissingError
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class NodeCallCounter(BaseCallbackHandler):
    """Counts model calls per graph node (LangGraph puts the node name in the metadata)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls[(kwargs.get("metadata") or {}).get("langgraph_node", "?")] += 1


async def test_crashed_run_resumes_from_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = tmp_path / "replies"
    replies.mkdir()
    full = yaml.safe_load((EXAMPLES / "replies" / "palindrome.yaml").read_text())
    (replies / "palindrome.yaml").write_text(yaml.safe_dump(full))
    # The checker's model is "down" (the process crashes there); the replies stay the same, so
    # the rerun is the same run (same thread id) and resumes it.
    pick = ScriptedChatModel._pick_reply

    def checker_down(self: ScriptedChatModel, metadata: dict) -> object:
        if self.agent == "checker":
            raise ScriptMissingError("the checker's model is down")
        return pick(self, metadata)

    monkeypatch.setattr(ScriptedChatModel, "_pick_reply", checker_down)
    image = tmp_path / "palindrome.png"
    shutil.copy(EXAMPLES / "images" / "palindrome.png", image)
    config = AutorustConfig(
        provider="scripted", scripted_replies=str(replies), home=str(tmp_path / ".autorust")
    )

    first = NodeCallCounter()
    async with open_checkpointer(config.checkpoint_path) as saver:
        with pytest.raises(ScriptMissingError):
            await run_image(image, config, saver, callbacks=[first])
    assert first.calls["vision"] == 1 and first.calls["coding"] == 1

    monkeypatch.setattr(ScriptedChatModel, "_pick_reply", pick)  # the model is back
    second = NodeCallCounter()
    async with open_checkpointer(config.checkpoint_path) as saver:  # a new connection, same file
        result = await run_image(image, config, saver, callbacks=[second])
    assert result.resumed and result.status == "passed"
    assert second.calls["vision"] == 0, "vision finished before the crash and must not rerun"
    assert second.calls["coding"] == 1  # only the second attempt
    assert second.calls["checker"] == 2

    third = NodeCallCounter()
    async with open_checkpointer(config.checkpoint_path) as saver:
        again = await run_image(image, config, saver, callbacks=[third])
    assert again.skipped and again.status == "passed" and sum(third.calls.values()) == 0


async def test_sqlite_checkpointer_uses_wal_and_normal_sync(tmp_path: Path) -> None:
    async with open_checkpointer(tmp_path / "c.sqlite") as saver:
        async with saver.conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"
        async with saver.conn.execute("PRAGMA synchronous") as cursor:
            assert (await cursor.fetchone())[0] == 1  # NORMAL


async def test_a_thread_killed_before_its_input_was_saved_starts_afresh(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    """kill -9 while a thread was being created left a checkpoint without the input; the
    rerun crashed on it (RunState: image_path missing) instead of starting the item."""
    from langgraph.checkpoint.base import empty_checkpoint

    from autorust.runtime.identity import thread_config, thread_id_for
    from autorust.runtime.runner import compile_graph

    image = example_images / "sum_even.png"
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        graph = compile_graph(saver)
        thread = thread_id_for(image, scripted_config)
        bare = empty_checkpoint()
        bare["channel_values"], bare["channel_versions"] = {"attempts": []}, {"attempts": 1}
        await saver.aput(
            {"configurable": {"thread_id": thread, "checkpoint_ns": ""}},
            bare, {"source": "input", "step": -1}, {"attempts": 1},
        )  # fmt: skip
        assert "image_path" not in (await graph.aget_state(thread_config(thread))).values
        result = await run_image(image, scripted_config, saver)
    assert result.status == "passed" and not result.resumed


async def test_each_step_is_checkpointed_before_the_next_step_starts(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    """With LangGraph's default ("async") durability a step's checkpoint is still being written
    while the next step runs; a kill -9 then lost a finished step, which re-ran on resume (seen
    as a repeated checker call in the kill -9 journal test)."""
    from autorust.runtime.identity import thread_config, thread_id_for
    from autorust.runtime.runner import compile_graph

    image = example_images / "sum_even.png"
    thread = thread_id_for(image, scripted_config)
    seen: list[tuple[str, int]] = []

    async with open_checkpointer(scripted_config.checkpoint_path) as saver:

        def wrapper(agent, node):  # type: ignore[no-untyped-def]
            async def checked(state, runtime):  # type: ignore[no-untyped-def]
                latest = await saver.aget_tuple(thread_config(thread))
                seen.append((str(agent), latest.metadata["step"] if latest else -2))
                return await node(state, runtime)

            return checked

        graph = compile_graph(saver, node_wrapper=wrapper)
        result = await run_image(image, scripted_config, saver, graph=graph)
        history = [s async for s in graph.aget_state_history(thread_config(thread))]
    assert result.status == "passed"
    # when each agent's node started, the step before it was already on disk
    assert [agent for agent, _ in seen] == ["vision", "coding", "interpreter", "checker"]
    step_before = {s.next[0]: s.metadata["step"] for s in history if s.next}
    assert seen == [(agent, step_before[agent]) for agent, _ in seen]
