from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorust.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_no_model_configured_is_a_clear_error(example_images: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", str(example_images / "sum_even.png"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "No model is configured" in result.output
    assert "AUTORUST_DEFAULT__MODEL" in result.output
    assert "autorust demo" in result.output


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        app,
        ["run", str(tmp_path / "empty"), "--scripted", str(ROOT / "examples" / "replies")],
        env={"COLUMNS": "240"},
    )
    assert result.exit_code != 0
    assert "holds no files" in result.output


def test_demo_runs_offline_and_shows_the_loop(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env["AUTORUST_HOME"] = str(tmp_path / ".autorust")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "demo", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SCRIPTED MODEL" in proc.stdout
    assert "5 passed" in proc.stdout and "1 unverified" in proc.stdout
    assert "unverified" in proc.stdout.split("word_stats.png", 2)[-1].splitlines()[0]
    results = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    assert {Path(r["image_path"]).stem: (r["status"], r["iterations"]) for r in results} == {
        "sum_even": ("passed", 1),
        "reverse_words": ("passed", 2),
        "palindrome": ("passed", 2),
        "sales_chart": ("passed", 2),
        "leap_year": ("passed", 2),  # passed the spec, failed confirmed reviewer tests first
        "word_stats": ("unverified", 0),  # nothing executable: no code was judged
    }
    assert all(r["model_provider"] == "scripted" for r in results)
    palindrome = next(out.glob("palindrome-*"))
    assert (palindrome / "attempts" / "01" / "verdict.json").is_file()
    log = [json.loads(line) for line in (palindrome / "log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in log].count("attempt") == 2 and log[-1]["status"] == "passed"
    assert "isalnum" in (palindrome / "solution.py").read_text()


def test_forced_ocr_without_tesseract_stops_before_any_image(
    example_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    result = CliRunner().invoke(
        app,
        ["run", str(example_images), "--scripted", str(ROOT / "examples" / "replies")],
        env={"AUTORUST_OCR": "on", "COLUMNS": "240"},
    )
    assert result.exit_code == 2
    assert "apt-get install tesseract-ocr" in result.output
