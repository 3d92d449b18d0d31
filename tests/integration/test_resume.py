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
from autorust.llm.scripted import ScriptMissingError
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class NodeCallCounter(BaseCallbackHandler):
    """Counts model calls per graph node (LangGraph puts the node name in the metadata)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls[(kwargs.get("metadata") or {}).get("langgraph_node", "?")] += 1


async def test_crashed_run_resumes_from_checkpoint(tmp_path: Path) -> None:
    replies = tmp_path / "replies"
    replies.mkdir()
    full = yaml.safe_load((EXAMPLES / "replies" / "palindrome.yaml").read_text())
    # The checker's model is "down": its replies are missing, so the first run crashes there.
    (replies / "palindrome.yaml").write_text(
        yaml.safe_dump({k: full[k] for k in ("vision", "coding")})
    )
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

    (replies / "palindrome.yaml").write_text(yaml.safe_dump(full))  # the model is back
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
