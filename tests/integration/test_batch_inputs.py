"""Hostile folders through the real CLI: every file gets a listed outcome, no name breaks a run.

Observed on 3f763c6: a legal 251-byte file name crashed every run (no summary, reruns crashed
the same way); identical bytes under two names ran twice on one thread at once (one reported
``running`` with the other's spec); ``_draft.png`` and dangling symlinks vanished silently; a
symlink to a file outside the folder was read and its hash prefix reached the thread id,
folder names, summary and database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorust.cli.main import app
from tests.support.bad_images import EXAMPLES, REPLIES

NOT_ITEMS = ("batches", "latest")  # the per-batch report folders and the latest pointer

pytestmark = pytest.mark.bwrap
WIDE = {"COLUMNS": "250"}


def add_image(folder: Path, name: str, replies: Path, source: str = "sum_even") -> Path:
    """A copy of an example image under ``name`` with scripted replies for its stem."""
    folder.mkdir(parents=True, exist_ok=True)
    replies.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copy(EXAMPLES / f"{source}.png", target)
    shutil.copy(REPLIES / f"{source}.yaml", replies / f"{Path(name).stem}.yaml")
    return target


def run_cli(folder: Path, replies: Path, tmp_path: Path, *extra: str):
    env = WIDE | {"AUTORUST_HOME": str(tmp_path / ".autorust")}
    args = ["run", str(folder), "--scripted", str(replies), "--out", str(tmp_path / "out"), *extra]
    return CliRunner().invoke(app, args, env=env)


def summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "latest" / "summary.json").read_text(encoding="utf-8"))


def thread_ids(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / ".autorust" / "checkpoints.sqlite") as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}


def test_a_251_byte_file_name_runs_and_reruns(tmp_path: Path) -> None:
    name = "t" * 247 + ".png"  # 251 bytes: legal on Linux, too long with any folder suffix
    assert len(name.encode()) == 251
    add_image(tmp_path / "images", name, tmp_path / "replies")
    add_image(tmp_path / "images", "palindrome.png", tmp_path / "replies", "palindrome")

    first = run_cli(tmp_path / "images", tmp_path / "replies", tmp_path, "--output", "quiet")
    assert first.exit_code == 0, first.output
    data = summary(tmp_path)
    assert data["counts"] == {"passed": 2}
    assert {Path(item["image"]).name for item in data["items"]} == {name, "palindrome.png"}
    folders = [p for p in (tmp_path / "out").iterdir() if p.is_dir() and p.name not in NOT_ITEMS]
    assert len(folders) == 2 and all(len(p.name.encode()) <= 100 for p in folders)
    long_folder = next(p for p in folders if p.name.startswith("ttt"))
    assert json.loads((long_folder / "result.json").read_text())["image_path"].endswith(name)

    again = run_cli(tmp_path / "images", tmp_path / "replies", tmp_path, "--output", "quiet")
    assert again.exit_code == 0, again.output
    assert all(item["skipped"] for item in summary(tmp_path)["items"])


def test_unicode_newline_and_case_only_names_get_their_own_folders(tmp_path: Path) -> None:
    images, replies = tmp_path / "images", tmp_path / "replies"
    names = ["Straße ünïcødé.png", "line\nbreak.png", "Case.png", "case.png", "a|b<c>.png"]
    sources = ["sum_even", "palindrome", "reverse_words", "reverse_words", "sales_chart"]
    for name, source in zip(names, sources, strict=True):
        add_image(images, name, replies, source)
    with (images / "case.png").open("ab") as handle:
        handle.write(b"distinct bytes")  # same image, other bytes: its own thread

    result = run_cli(images, replies, tmp_path, "--output", "quiet")
    assert result.exit_code == 0, result.output
    data = summary(tmp_path)
    assert sorted(Path(i["image"]).name for i in data["items"]) == sorted(names)
    assert data["counts"] == {"passed": 5}
    folders = sorted(
        p.name for p in (tmp_path / "out").iterdir() if p.is_dir() and p.name not in NOT_ITEMS
    )
    assert len(folders) == 5
    assert len({f.lower() for f in folders}) == 5, "unique even on a case-insensitive disk"
    assert not any("\n" in f or "|" in f or "<" in f for f in folders)
    markdown = (tmp_path / "out" / "latest" / "summary.md").read_text(encoding="utf-8")
    rows = [
        line for line in markdown.splitlines() if line.startswith("| ") and "| passed |" in line
    ]
    assert len(rows) == 5, "one table row per image: a newline or a pipe in a name breaks none"


def test_identical_bytes_are_processed_once_and_reported_under_each_name(tmp_path: Path) -> None:
    images, replies = tmp_path / "images", tmp_path / "replies"
    add_image(images, "first.png", replies, "palindrome")
    shutil.copy(images / "first.png", images / "second.png")  # no replies: must not be run
    add_image(images, "other.png", replies, "sum_even")

    result = run_cli(images, replies, tmp_path, "--output", "quiet")
    assert result.exit_code == 0, result.output
    items = {Path(i["image"]).name: i for i in summary(tmp_path)["items"]}
    assert items["first.png"]["status"] == items["second.png"]["status"] == "passed"
    assert items["second.png"]["duplicate_of"].endswith("first.png")
    assert items["second.png"]["thread_id"] == items["first.png"]["thread_id"]
    assert items["second.png"]["title"] == items["first.png"]["title"] == "Palindrome check"
    assert len(thread_ids(tmp_path)) == 2, "one thread per distinct content"
    usage = summary(tmp_path)["usage"]["total"]
    assert (
        usage["input_tokens"]
        == items["first.png"]["input_tokens"] + items["other.png"]["input_tokens"]
    ), "tokens were spent once"
    for name in ("first", "second"):
        folder = next((tmp_path / "out").glob(f"{name}-*"))
        assert json.loads((folder / "result.json").read_text())["status"] == "passed"


def test_every_file_gets_an_outcome_and_outside_symlinks_are_never_read(tmp_path: Path) -> None:
    images, replies = tmp_path / "images", tmp_path / "replies"
    add_image(images, "good.png", replies)
    add_image(images, "_draft.png", replies, "palindrome")
    add_image(images, ".hidden.png", replies, "palindrome")
    (images / "sub").mkdir()
    os.symlink(images / "missing.png", images / "dangling.png")
    secret = tmp_path / "elsewhere" / "secret.png"
    secret.parent.mkdir()
    shutil.copy(EXAMPLES / "reverse_words.png", secret)
    with secret.open("ab") as handle:
        handle.write(b"private")
    os.symlink(secret, images / "escape.png")
    os.symlink("good.png", images / "alias.png")  # inside the folder: same bytes as good.png
    shutil.copy(replies / "good.yaml", replies / "alias.yaml")  # alias sorts first: it runs
    os.mkfifo(images / "pipe.png")  # reading it would block the batch forever
    secret_hash = hashlib.sha256(secret.read_bytes()).hexdigest()

    result = run_cli(images, replies, tmp_path)
    assert result.exit_code == 0, result.output
    reasons = {Path(e["image"]).name: e["reason"] for e in summary(tmp_path)["not_processed"]}
    assert set(reasons) == {"_draft.png", ".hidden.png", "sub", "dangling.png", "escape.png",
                            "pipe.png"}  # fmt: skip
    assert "outside the folder" in reasons["escape.png"] and "not read" in reasons["escape.png"]
    assert "dangling symlink" in reasons["dangling.png"]
    assert "'_'" in reasons["_draft.png"] and "hidden" in reasons[".hidden.png"]
    assert "sub-folders" in reasons["sub"] and "not a regular file" in reasons["pipe.png"]
    processed = {Path(i["image"]).name: i for i in summary(tmp_path)["items"]}
    assert set(processed) == {"good.png", "alias.png"}
    assert processed["good.png"]["duplicate_of"].endswith("alias.png")
    live = " ".join(result.output.split())
    assert "6 file(s) not processed" in live and "_draft.png" in live and "escape.png" in live
    markdown = (tmp_path / "out" / "latest" / "summary.md").read_text(encoding="utf-8")
    page = (tmp_path / "out" / "latest" / "report.html").read_text(encoding="utf-8")
    for name in reasons:
        assert name in markdown and name in page
    # nothing derived from the refused file's bytes reached any output
    for prefix in (secret_hash[:8], secret_hash[:16]):
        assert not any(prefix in t for t in thread_ids(tmp_path))
        assert not any(prefix in p.name for p in (tmp_path / "out").iterdir())
        for report in ("summary.json", "summary.md", "report.html"):
            assert prefix not in (tmp_path / "out" / "latest" / report).read_text(encoding="utf-8")


def test_jsonl_lists_files_not_processed(tmp_path: Path) -> None:
    images, replies = tmp_path / "images", tmp_path / "replies"
    add_image(images, "good.png", replies)
    add_image(images, "_draft.png", replies)
    result = run_cli(images, replies, tmp_path, "--output", "jsonl")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    skipped = [e for e in events if e["event"] == "file_not_processed"]
    assert [Path(e["image"]).name for e in skipped] == ["_draft.png"] and skipped[0]["reason"]


def test_skipping_a_finished_item_keeps_its_files_and_original_figures(tmp_path: Path) -> None:
    images, replies = tmp_path / "images", tmp_path / "replies"
    add_image(images, "palindrome.png", replies, "palindrome")
    (replies / "_delays.yaml").write_text("coding: 0.3\n")  # a run that takes a while
    assert run_cli(images, replies, tmp_path, "--output", "quiet").exit_code == 0
    first = summary(tmp_path)["items"][0]
    folder = next((tmp_path / "out").glob("palindrome-*"))
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}

    assert run_cli(images, replies, tmp_path, "--output", "quiet").exit_code == 0
    second = summary(tmp_path)["items"][0]
    assert second["skipped"] and not first["skipped"]
    for figure in ("duration_s", "input_tokens", "output_tokens", "score", "iterations"):
        assert second[figure] == first[figure], figure
    assert first["duration_s"] >= 0.6
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()} \
        == files, "result.json, log.jsonl and attempts are left as the run wrote them"  # fmt: skip
