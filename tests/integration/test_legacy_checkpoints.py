"""Checkpoints written by an earlier release (3f763c6, state classes recorded under the old
top-level ``graph.state`` module) still load, list, show, resume and fork."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState, Spec
from autorust.runtime.history import fork, history, list_threads, resume, stored_config
from autorust.runtime.runner import compile_graph
from autorust.storage.checkpoints import open_checkpointer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints-3f763c6.sqlite"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _here(config: AutorustConfig, tmp_path: Path) -> AutorustConfig:
    """The stored configuration with this machine's paths (the fixture was made elsewhere)."""
    return config.model_copy(
        update={"scripted_replies": str(EXAMPLES / "replies"), "home": str(tmp_path / "home")}
    )


async def test_old_checkpoints_list_show_resume_and_fork(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE, db)
    async with open_checkpointer(db) as saver:
        rows = {Path(row.image_path).name: row for row in await list_threads(saver)}
        assert set(rows) == {"palindrome.png", "sum_even.png"}
        assert rows["palindrome.png"].status == "passed" and rows["palindrome.png"].iterations == 2
        assert rows["sum_even.png"].awaiting  # paused at the approval interrupt

        graph = compile_graph(saver)
        passed = rows["palindrome.png"].thread_id
        steps = await history(graph, passed)
        assert [s.node for s in steps if s.node][:2] == ["__start__", "vision"]
        state = RunState.model_validate((await graph.aget_state(
            {"configurable": {"thread_id": passed}})).values)  # fmt: skip
        assert isinstance(state.spec, Spec) and state.spec.title
        assert state.attempts[-1].verdict.passed

        paused = rows["sum_even.png"].thread_id
        config = _here(await stored_config(graph, paused), tmp_path)
        result = await resume(saver, paused, decision={"approved": True}, config=config)
        assert result.status == "passed", result.error

        checker_step = next(s for s in steps if s.node == "checker")
        forked = await fork(
            saver,
            passed,
            checker_step.checkpoint_id,
            feedback="keep it short",
            config=_here(await stored_config(graph, passed), tmp_path),
        )
        assert forked.thread_id != passed and forked.status in ("passed", "failed")
        original = await graph.aget_state({"configurable": {"thread_id": passed}})
        assert RunState.model_validate(original.values).status == "passed"
    # the old classes were rebuilt as classes, not degraded to raw dicts by the serde allow-list
    assert not [r for r in caplog.records if "deserializ" in r.getMessage().lower()]
