"""`autorust runs` list/show/resume/fork and approval pauses, on a real SQLite checkpoint file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorust.cli.main import app
from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState
from autorust.nodes.coding import history_section
from autorust.runtime.history import fork, history, list_threads, resume
from autorust.runtime.runner import compile_graph, run_image
from autorust.storage.checkpoints import open_checkpointer

WIDE = {"COLUMNS": "250"}


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
async def finished_run(scripted_config: AutorustConfig, example_images: Path) -> str:
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "palindrome.png", scripted_config, saver)
    assert result.status == "passed" and result.thread_id
    return result.thread_id


async def test_list_and_show(finished_run: str, scripted_config: AutorustConfig) -> None:
    db = str(scripted_config.checkpoint_path)
    listing = await asyncio.to_thread(cli, "runs", "list", "--db", db, "--wide")
    assert finished_run in listing and "palindrome.png" in listing and "passed" in listing
    shown = await asyncio.to_thread(cli, "runs", "show", finished_run, "--db", db)
    for node in ("vision", "coding", "interpreter", "checker", "judge"):
        assert node in shown
    # attempt 1 passed 3 of 5 tests; attempt 2 all of them
    assert "fail 0.60" in shown and "pass 1.00" in shown and "Palindrome check" in shown


async def test_fork_with_feedback_reaches_the_coder(
    finished_run: str, scripted_config: AutorustConfig
) -> None:
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        graph = compile_graph(saver)
        steps = await history(graph, finished_run)
        after_first_check = next(s for s in steps if s.node == "judge")
        forked = await fork(
            saver, finished_run, after_first_check.checkpoint_id, feedback="use a two-pointer scan"
        )
        assert forked.thread_id != finished_run and forked.status == "passed"
        fork_steps = await history(graph, forked.thread_id)  # type: ignore[arg-type]
        first = await graph.aget_state(
            {"configurable": {"thread_id": forked.thread_id,
                              "checkpoint_id": fork_steps[0].checkpoint_id}}
        )  # fmt: skip
        seeded = RunState.model_validate(first.values)
        assert seeded.feedback == "use a two-pointer scan" and seeded.iteration == 1
        assert "use a two-pointer scan" in history_section(seeded)
        original = RunState.model_validate((await graph.aget_state(
            {"configurable": {"thread_id": finished_run}})).values)  # fmt: skip
        assert len(original.attempts) == 2, "the original thread is untouched"
        rows = {row.thread_id: row for row in await list_threads(saver)}
        assert (
            rows[forked.thread_id].forked_from
            == f"{finished_run}@{after_first_check.checkpoint_id}"
        )


async def test_fork_with_prompt_version_via_cli(
    finished_run: str, scripted_config: AutorustConfig, tmp_path: Path
) -> None:
    db = str(scripted_config.checkpoint_path)
    async with open_checkpointer(db) as saver:
        steps = await history(compile_graph(saver), finished_run)
    after_vision = next(s for s in steps if s.node == "vision")
    args = ["runs", "fork", finished_run, "--checkpoint", after_vision.checkpoint_id,
            "--prompt-version", "coding=v1", "--db", db, "--out", str(tmp_path)]  # fmt: skip
    output = await asyncio.to_thread(cli, *args)
    assert "passed" in output
    async with open_checkpointer(db) as saver:
        forks = [r for r in await list_threads(saver) if r.forked_from]
        state = RunState.model_validate((await compile_graph(saver).aget_state(
            {"configurable": {"thread_id": forks[0].thread_id}})).values)  # fmt: skip
    assert state.prompt_versions["coding"] == "v1"


async def test_approval_pause_then_resume_to_completion(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    config = scripted_config.model_copy(update={"approve_execution": True})
    async with open_checkpointer(config.checkpoint_path) as saver:
        paused = await run_image(example_images / "palindrome.png", config, saver)
        assert (
            paused.status == "running"
            and paused.awaiting == "Run this generated code in the sandbox?"
        )
        assert paused.state is not None and paused.state.execution is None  # nothing ran yet
        thread = paused.thread_id
        assert thread is not None
        second = await resume(saver, thread, decision={"approved": True})
        assert second.awaiting and second.iterations == 1  # attempt 1 ran, failed; attempt 2 waits
    args = ["runs", "resume", thread, "--approve", "--db", str(config.checkpoint_path),
            "--out", str(Path(config.output_dir))]  # fmt: skip
    output = await asyncio.to_thread(cli, *args)
    assert "passed" in output
    async with open_checkpointer(config.checkpoint_path) as saver:
        rows = {r.thread_id: r for r in await list_threads(saver)}
    assert rows[thread].status == "passed" and rows[thread].iterations == 2


async def test_rejected_execution_ends_the_run(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    config = scripted_config.model_copy(update={"approve_execution": True})
    async with open_checkpointer(config.checkpoint_path) as saver:
        paused = await run_image(example_images / "sum_even.png", config, saver)
        done = await resume(saver, paused.thread_id or "", decision={"approved": False})
    assert done.status == "failed" and not done.awaiting
    assert done.error == "a reviewer rejected running the generated code"


async def test_final_failure_can_be_granted_more_attempts(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    config = scripted_config.model_copy(update={"approve_final_failure": True, "max_iterations": 1})
    async with open_checkpointer(config.checkpoint_path) as saver:
        paused = await run_image(example_images / "palindrome.png", config, saver)
        assert paused.status == "failed" and paused.awaiting
        done = await resume(
            saver, paused.thread_id or "", decision={"approved": True, "extra_iterations": 1}
        )
    assert done.status == "passed" and done.iterations == 2


def test_unknown_thread_is_a_clear_error(
    scripted_config: AutorustConfig, finished_run: str
) -> None:
    result = CliRunner().invoke(
        app, ["runs", "show", "nope", "--db", str(scripted_config.checkpoint_path)], env=WIDE
    )
    assert result.exit_code == 2 and "no run 'nope'" in result.output
