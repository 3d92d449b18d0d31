"""``runs list`` reads each thread's latest checkpoint straight from the saver: the same rows
as walking the compiled graph's state, without compiling it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorust.cli.main import app
from autorust.graph.context import AutorustConfig
from autorust.runtime.history import list_threads
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from autorust.storage.listing import latest_runs
from autorust.storage.run_index import live_threads
from tests.support.runs import fork_at_first_coding


async def test_latest_runs_match_the_graph_state(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    paused_config = scripted_config.model_copy(update={"approve_execution": True})
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        await run_image(example_images / "palindrome.png", scripted_config, saver)
        await run_image(example_images / "sum_even.png", paused_config, saver)
        fast = {row.thread_id: row.model_dump() for row in await latest_runs(saver)}
        slow = {row.thread_id: row.model_dump() for row in await list_threads(saver)}
    assert fast == slow
    by_image = {Path(row["image_path"]).name: row for row in fast.values()}
    assert by_image["palindrome.png"]["iterations"] == 2
    assert by_image["palindrome.png"]["status"] == "passed"
    assert by_image["sum_even.png"]["awaiting"] is True


def test_runs_list_on_an_empty_store(tmp_path: Path) -> None:
    db = tmp_path / "checkpoints.sqlite"
    db.touch()
    result = CliRunner().invoke(app, ["runs", "list", "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "thread" in result.output


async def test_a_batch_keeps_the_run_index_current(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    from autorust.runtime.batch import BatchRun
    from autorust.storage.run_index import read_index

    images = [example_images / "palindrome.png", example_images / "sum_even.png"]
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        await BatchRun(images, scripted_config, saver).run()
        slow = {row.thread_id: row.model_dump() for row in await latest_runs(saver)}
    rows, stale = read_index(scripted_config.checkpoint_path)
    assert not stale, "every run of the batch is in the index"
    assert {row.thread_id: row.model_dump() for row in rows} == slow
    assert live_threads(scripted_config.checkpoint_path) == set()  # each released its thread


async def test_a_run_is_indexed_in_the_commit_that_releases_its_thread(tmp_path: Path) -> None:
    """The row a run's end records is written with the release (once, whether or not the
    body then fails); a run that set no row is released as before."""
    from datetime import UTC, datetime

    from autorust.storage.listing import holding
    from autorust.storage.run_index import RunRow, read_index

    path = tmp_path / "c.sqlite"
    row = RunRow(thread_id="t1", image_path="a.png", status="passed", iterations=1,
                 updated=datetime.now(UTC))  # fmt: skip
    async with open_checkpointer(path) as saver:
        async with holding(saver, "t0"):
            assert live_threads(path) == {"t0"}
        with pytest.raises(RuntimeError):
            async with holding(saver, "t1") as held:
                held.finished = (row, "checkpoint-1")
                raise RuntimeError("after the row was set")
    assert live_threads(path) == set()
    conn = sqlite3.connect(path)
    try:
        indexed = conn.execute("SELECT thread_id, checkpoint_id FROM autorust_runs").fetchall()
    finally:
        conn.close()
    assert indexed == [("t1", "checkpoint-1")]
    assert read_index(path) == ([], set())  # (no checkpoint of its own: not listed)


async def _store_with_runs(path: Path, statuses: list[str]) -> None:
    from langgraph.checkpoint.base import empty_checkpoint

    from autorust.graph.state import RunState
    from autorust.storage.listing import index_run

    async with open_checkpointer(path) as saver:
        for index, status in enumerate(statuses):
            checkpoint = empty_checkpoint()
            state = RunState(image_path=f"image-{index}.png", status=status)
            checkpoint["channel_values"] = state.model_dump()
            config = {"configurable": {"thread_id": f"t{index:03}", "checkpoint_ns": ""}}
            await saver.aput(config, checkpoint, {"source": "loop", "step": 1}, {})
            await index_run(saver, f"t{index:03}")


async def test_runs_list_shows_the_newest_runs_and_filters_by_status(tmp_path: Path) -> None:
    import json

    db = tmp_path / "checkpoints.sqlite"
    await _store_with_runs(db, ["passed", "failed"] * 40)
    runner = CliRunner()
    env = {"COLUMNS": "200"}

    table = runner.invoke(app, ["runs", "list", "--db", str(db)], env=env)
    assert table.exit_code == 0, table.output
    assert "t079" in table.output and "t029" not in table.output  # newest 50: t030..t079
    assert "newest 50 of 80 runs" in table.output

    every = runner.invoke(app, ["runs", "list", "--db", str(db), "--limit", "0"], env=env)
    assert "t000" in every.output and "newest" not in every.output

    failed = runner.invoke(
        app, ["runs", "list", "--db", str(db), "--status", "failed", "--jsonl", "-n", "0"]
    )
    rows = [json.loads(line) for line in failed.output.splitlines()]
    assert len(rows) == 40 and {row["status"] for row in rows} == {"failed"}
    assert rows[0]["thread_id"] == "t079"  # newest first

    bad = runner.invoke(app, ["runs", "list", "--db", str(db), "--status", "pased"], env=env)
    assert bad.exit_code == 2
    assert "'pased' is not a status: allowed running, passed, failed" in bad.output


async def test_a_fork_is_in_the_run_index_with_its_origin(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    from autorust.storage.run_index import read_index

    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        first, forked_at, forked = await fork_at_first_coding(
            saver, scripted_config, example_images / "palindrome.png"
        )
    rows, stale = read_index(scripted_config.checkpoint_path)
    assert not stale, "the fork indexed itself when it finished"
    by_thread = {row.thread_id: row for row in rows}
    assert by_thread[forked.thread_id or ""].forked_from == f"{first.thread_id}@{forked_at}"
