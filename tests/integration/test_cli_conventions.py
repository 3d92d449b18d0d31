"""The conventions of a Python CLI and messages that are right (issue 24 items 4, 8, 9, 10)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from autorust.cli.display import show_item
from autorust.cli.main import app
from autorust.cli.running import interrupted_message
from autorust.outcomes import ItemResult
from tests.conftest import EXAMPLES, ROOT

NARROW = {"COLUMNS": "80"}


def one_image(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(EXAMPLES / "images" / "palindrome.png", folder / "palindrome.png")
    return folder


def test_multi_line_messages_keep_their_lines(tmp_path: Path) -> None:
    env = {**NARROW, "AUTORUST_HOME": str(tmp_path / ".h")}
    result = CliRunner().invoke(app, ["run", str(one_image(tmp_path))], env=env)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0].startswith("error: coding model: No model is configured")
    assert any(line.strip().startswith("export AUTORUST_DEFAULT__MODEL=") for line in lines)
    assert "no vision model" not in result.output, "said only when the other agents have one"


def test_a_missing_key_is_named_as_a_missing_key(tmp_path: Path) -> None:
    env = {**NARROW, "AUTORUST_HOME": str(tmp_path / ".h"), "AUTORUST_DEFAULT__MODEL": "gpt-4o"}
    result = CliRunner().invoke(app, ["run", str(one_image(tmp_path))], env=env)
    assert result.exit_code == 2
    assert "no API key" in result.output and "export OPENAI_API_KEY=" in result.output
    assert "No model is configured" not in result.output
    assert "no vision model" not in result.output


def test_ctrl_c_says_how_to_resume_when_the_command_had_force(tmp_path: Path) -> None:
    forced = interrupted_message(force=True)
    assert "WITHOUT --force" in forced and "run the same command again" not in forced
    assert "run the same command again" in interrupted_message(force=False)


def test_unverified_is_not_shown_as_an_error() -> None:
    console = Console(record=True, width=80)
    show_item(console, ItemResult(image_path="w.png", thread_id="t", status="unverified",
                                  error="no executable tests"))  # fmt: skip
    text = console.export_text()
    assert "unverified: no executable tests" in text and "error:" not in text


def test_version_module_entry_completion_and_defaults() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("autorust ")
    proc = subprocess.run([sys.executable, "-m", "autorust", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout == result.output
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}).output
    assert "--install-completion" in top
    run_help = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert "from config: 3" in run_help and "details for 5 images or fewer" in run_help


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env["AUTORUST_HOME"] = str(tmp_path / ".h")
    command = [sys.executable, "-m", "autorust", "run", str(tmp_path / "images"), "--scripted",
               str(EXAMPLES / "replies"), "--out", str(tmp_path / "out"), *args]  # fmt: skip
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_quiet_is_quiet_and_jsonl_ends_with_the_batch(tmp_path: Path) -> None:
    one_image(tmp_path)
    quiet = _run(tmp_path, "--output", "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "", quiet.stdout
    lines = _run(tmp_path, "--output", "jsonl", "--force").stdout.splitlines()
    last = json.loads(lines[-1])
    assert last["event"] == "batch_finished" and last["counts"] == {"passed": 1}
    assert Path(last["report"]).is_file() and last["all_passed"] is True
    assert all(json.loads(line)["event"] != "batch_finished" for line in lines[:-1])


def test_bad_output_mode_has_no_pydantic_prefix_and_store_options_are_consistent(
    tmp_path: Path,
) -> None:
    bad = CliRunner().invoke(app, ["run", str(tmp_path), "--output", "json"], env=NARROW)
    assert bad.exit_code == 2
    assert "'json' is not one of 'rich', 'quiet', 'jsonl'" in " ".join(bad.output.split())
    assert "Value error" not in bad.output
    # the store is --db everywhere (run keeps --checkpoint as its older name); fork's point
    # in a run is --step (--checkpoint still works)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    env = {**NARROW, "AUTORUST_HOME": str(tmp_path / ".h")}
    images = one_image(tmp_path)
    for flag in ("--db", "--checkpoint"):
        args = ["run", str(images), "--scripted", str(EXAMPLES / "replies"), flag, str(garbage)]
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2 and "not a usable SQLite" in result.output, result.output
    fork_help = CliRunner().invoke(app, ["runs", "fork", "--help"], env={"COLUMNS": "200"})
    assert "--step" in fork_help.output and "--checkpoint" in fork_help.output
