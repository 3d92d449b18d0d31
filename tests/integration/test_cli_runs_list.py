"""``runs list`` reads each thread's latest checkpoint straight from the saver: the same rows
as walking the compiled graph's state, without compiling it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from autorust.cli.main import app
from autorust.graph.context import AutorustConfig
from autorust.runtime.history import list_threads
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from autorust.storage.listing import latest_runs


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
