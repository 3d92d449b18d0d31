"""Every run writes only its own folder (issue 24 items 1-3): forks, resumes and batches never
touch another run's files; ids are typed like git's (prefixes, step numbers, did you mean)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorust.cli.main import app
from autorust.graph.context import AutorustConfig
from autorust.reporting.item_files import write_item
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from autorust.storage.listing import latest_runs

NARROW = {"COLUMNS": "80"}


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=NARROW)
    assert result.exit_code == code, result.output
    return result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
async def original(scripted_config: AutorustConfig, example_images: Path) -> tuple[str, Path]:
    """A finished palindrome run and its result folder, as a batch leaves them."""
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "palindrome.png", scripted_config, saver)
    assert result.status == "passed" and result.thread_id
    folder = write_item(scripted_config.output_dir, result)
    return result.thread_id, folder


async def thread_ids(config: AutorustConfig) -> set[str]:
    async with open_checkpointer(config.checkpoint_path) as saver:
        return {row.thread_id for row in await latest_runs(saver)}


async def test_a_fork_writes_only_its_own_folder(
    original: tuple[str, Path], scripted_config: AutorustConfig
) -> None:
    thread, folder = original
    assert thread in folder.name, "the folder name carries the whole thread id"
    before = snapshot(folder)
    db, out = str(scripted_config.checkpoint_path), scripted_config.output_dir
    shown = await asyncio.to_thread(cli, "runs", "show", thread[:10], "--db", db)
    assert "judge" in shown and "pass 1.00" in shown
    args = ("runs", "fork", thread[:10], "--checkpoint", "6", "--feedback", "use two pointers",
            "--db", db, "--out", out)  # fmt: skip
    output = await asyncio.to_thread(cli, *args)
    assert "passed" in output
    assert snapshot(folder) == before, "the original's files are untouched"
    (fork,) = (await thread_ids(scripted_config)) - {thread}
    (fork_folder,) = [p for p in Path(out).iterdir() if p.is_dir() and p != folder]
    assert fork in fork_folder.name and fork.startswith(f"{thread}-fork-")
    assert json.loads((fork_folder / "result.json").read_text())["thread_id"] == fork


@pytest.mark.parametrize("checkpoint", ["13", "ffff-not-a-checkpoint", "-1"])
async def test_a_fork_from_a_bad_checkpoint_is_one_line_and_writes_nothing(
    original: tuple[str, Path], scripted_config: AutorustConfig, checkpoint: str
) -> None:
    thread, _folder = original
    out = Path(scripted_config.output_dir)
    before = {p.name: snapshot(p) for p in out.iterdir()}
    args = ("runs", "fork", thread, "--checkpoint", checkpoint, "--feedback", "x",
            "--db", str(scripted_config.checkpoint_path), "--out", str(out))  # fmt: skip
    output = await asyncio.to_thread(cli, *args, code=2)
    assert output.startswith("error: --checkpoint:") and output.count("\n") == 1, output
    assert "Error" not in output and "Palindrome" not in output
    assert {p.name: snapshot(p) for p in out.iterdir()} == before
    assert await thread_ids(scripted_config) == {thread}, "no fork thread was created"


async def test_resuming_a_finished_run_does_nothing(
    original: tuple[str, Path], scripted_config: AutorustConfig, tmp_path: Path
) -> None:
    _thread, folder = original
    before = snapshot(folder)
    elsewhere = tmp_path / "elsewhere"
    args = ("runs", "resume", folder.name, "--db", str(scripted_config.checkpoint_path),
            "--out", str(elsewhere))  # fmt: skip
    output = await asyncio.to_thread(cli, *args)
    assert "already finished, nothing to do" in output
    assert not elsewhere.exists() and snapshot(folder) == before


def test_a_second_batch_keeps_the_first_batchs_reports(tmp_path: Path) -> None:
    from tests.conftest import EXAMPLES

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(EXAMPLES / "images" / "palindrome.png", tmp_path / name / "palindrome.png")
    shutil.copy(EXAMPLES / "images" / "sum_even.png", tmp_path / "b" / "sum_even.png")
    out = tmp_path / "out"
    common = ("--scripted", str(EXAMPLES / "replies"), "--out", str(out), "--output", "quiet")
    env = {**NARROW, "AUTORUST_HOME": str(tmp_path / ".autorust")}
    for name in ("a", "b"):
        result = CliRunner().invoke(app, ["run", str(tmp_path / name), *common], env=env)
        assert result.exit_code == 0, result.output
    batches = sorted((out / "batches").iterdir())
    assert len(batches) == 2
    first, second = (json.loads((b / "summary.json").read_text()) for b in batches)
    assert len(first["items"]) == 1 and len(second["items"]) == 2
    assert all((b / "report.html").is_file() and (b / "summary.md").is_file() for b in batches)
    assert (out / "latest").resolve() == batches[1].resolve()
    # the same image name in two folders: two result folders
    palindromes = sorted(p.name for p in out.glob("palindrome-*"))
    assert len(palindromes) == 2, palindromes


async def test_ids_like_git_at_80_columns(
    original: tuple[str, Path], scripted_config: AutorustConfig
) -> None:
    thread, _ = original
    db = str(scripted_config.checkpoint_path)
    listing = await asyncio.to_thread(cli, "runs", "list", "--db", db)
    assert max(len(line) for line in listing.splitlines()) <= 80
    assert "passed" in listing and "palindrome.png" in listing
    short = thread[:8]
    assert short in listing.split() or any(w.startswith(short) for w in listing.split())
    shown = await asyncio.to_thread(cli, "runs", "show", short, "--db", db)
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert "…" not in shown.split("run ", 1)[1].splitlines()[0], "the thread id is whole"
    steps = [line.split()[:2] for line in shown.splitlines()[2:] if line.strip()]
    assert ["6", "judge"] in steps and ["11", "judge"] in steps
    wide = await asyncio.to_thread(cli, "runs", "list", "--db", db, "--wide")
    assert thread in wide
    typo = thread[:5] + ("0" if thread[5] != "0" else "1") + thread[6:]
    missed = await asyncio.to_thread(cli, "runs", "show", typo, "--db", db, code=2)
    assert "did you mean" in missed and thread in missed.replace("\n", "")
