"""``autorust init`` and ``autorust doctor`` / ``config show`` through the real CLI (a fresh
process each), with a real loopback listener as the model endpoint (issue 24 item 10)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from autorust.graph.context import AutorustConfig

SECRET = "sk-doctor-secret-never-shown-4711"


def cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    base |= {"COLUMNS": "200", "AUTORUST_HOME": str(cwd / ".autorust"), **env}
    return subprocess.run(
        [sys.executable, "-m", "autorust", *args], cwd=cwd, env=base, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def listening() -> Iterator[int]:
    """A loopback port that accepts connections (what the probe needs of an endpoint)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_paths(model: type[BaseModel], table: str = "") -> list[tuple[str, str]]:
    """(table, setting) for every leaf setting of the configuration model."""
    found: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            found += settings_paths(nested, f"{table}.{name}" if table else name)
        else:
            found.append((table, name))
    return found


def test_init_writes_every_setting_with_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "autorust.toml").read_text()
    assert tomllib.loads(text) == {  # everything is commented out: the defaults apply
        "default": {}, "vision": {}, "coding": {}, "checker": {}, "executor": {"limits": {}},
    }  # fmt: skip
    table, listed, lines = "", set(), text.splitlines()
    for index, line in enumerate(lines):
        if header := re.fullmatch(r"\[([\w.]+)\]", line):
            table = header[1]
        elif setting := re.fullmatch(r"# (\w+) =(.*)", line):
            listed.add((table, setting[1]))
            if table in ("", "default", "executor", "executor.limits"):
                above = lines[index - 1]
                assert above.startswith("# ") and " = " not in above[:40], (setting[1], above)
    assert listed == set(settings_paths(AutorustConfig)), "every setting, nothing else"
    # uncomment every setting that has a value: the same configuration as no file at all
    uncommented = "\n".join(
        line[2:] if re.fullmatch(r"# \w+ = .+", line) else line for line in lines
    )
    (tmp_path / "autorust.toml").write_text(uncommented)
    assert tomllib.loads(uncommented)["executor"]["limits"]["timeout_s"] == 10.0
    monkeypatch.chdir(tmp_path)
    assert AutorustConfig().model_dump() == AutorustConfig.model_construct().model_dump()
    shown = cli(tmp_path, "config", "show", AUTORUST_DEFAULT__MODEL="m",
                AUTORUST_DEFAULT__BASE_URL="http://127.0.0.1:9/v1")  # fmt: skip
    assert shown.returncode == 0, shown.stdout  # the uncommented template is a valid file


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "autorust.toml").write_text("max_iterations = 7\n")
    refused = cli(tmp_path, "init")
    assert refused.returncode == 2
    assert "exists" in refused.stdout and "--force" in refused.stdout
    assert (tmp_path / "autorust.toml").read_text() == "max_iterations = 7\n"
    forced = cli(tmp_path, "init", "--force")
    assert forced.returncode == 0
    assert "# max_iterations = 3" in (tmp_path / "autorust.toml").read_text()


def test_doctor_shows_each_agent_and_probes_the_endpoint(tmp_path: Path, listening: int) -> None:
    url = f"http://127.0.0.1:{listening}/v1"
    result = cli(
        tmp_path, "doctor", AUTORUST_DEFAULT__MODEL="coder-7b", AUTORUST_DEFAULT__BASE_URL=url,
        AUTORUST_VISION__MODEL="see-11b", AUTORUST_CHECKER__STRUCTURED_OUTPUT="tools",
        OPENAI_API_KEY=SECRET, AUTORUST_EXECUTOR__KIND="subprocess",
        AUTORUST_EXECUTOR__ALLOW_UNSANDBOXED="true",
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["vision"][:4] == ["vision", "see-11b", f"127.0.0.1:{listening}", "yes"]
    assert rows["coding"][:5] == ["coding", "coder-7b", f"127.0.0.1:{listening}", "yes", "auto"]
    assert rows["checker"][4] == "tools"
    assert f"endpoint {url} (vision, coding, checker): reachable" in out
    assert "sandbox: subprocess: starts" in out and out.rstrip().endswith("all good")
    assert SECRET not in out + result.stderr


def test_doctor_exits_2_naming_each_problem(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = cli(
        tmp_path, "doctor", AUTORUST_CODING__MODEL="coder", AUTORUST_CODING__BASE_URL=url,
        AUTORUST_CHECKER__MODEL="gpt-4o", AUTORUST_OCR="off",
        AUTORUST_EXECUTOR__KIND="subprocess", AUTORUST_EXECUTOR__ALLOW_UNSANDBOXED="true",
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 2, out
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert len(problems) == 3, out
    assert any("vision: no model configured" in line for line in problems)
    assert any(f"endpoint {url} (coding): cannot reach it" in line for line in problems)
    assert any("checker model" in line and "no API key" in line for line in problems)
    assert "3 problem(s)" in out


def test_config_show_does_not_probe(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = cli(
        tmp_path, "config", "show", AUTORUST_DEFAULT__MODEL="m", AUTORUST_DEFAULT__BASE_URL=url
    )
    assert result.returncode == 0, result.stdout
    assert "cannot reach" not in result.stdout and "not probed" in result.stdout


def test_doctor_reports_a_bad_configuration_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "autorust.toml").write_text("[default]\ntemprature = 0.2\n")
    result = cli(tmp_path, "doctor")
    assert result.returncode == 2
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("problem:")]
    assert "autorust.toml [default] temprature" in line and "did you mean 'temperature'" in line


@pytest.mark.bwrap
def test_doctor_starts_the_bubblewrap_sandbox(tmp_path: Path, listening: int) -> None:
    result = cli(
        tmp_path, "doctor", AUTORUST_DEFAULT__MODEL="m",
        AUTORUST_DEFAULT__BASE_URL=f"http://127.0.0.1:{listening}/v1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "sandbox: local: starts" in result.stdout


@pytest.mark.parametrize("via", ["OPENAI_BASE_URL", "AUTORUST_DEFAULT__BASE_URL"])
def test_run_probes_the_openai_endpoint_before_any_image(tmp_path: Path, via: str) -> None:
    """Observed on 38a965c: with no base_url (OpenAI's own endpoint, or OPENAI_BASE_URL) nothing
    was probed: offline, ~21 s of retries per image. Now one line before any image."""
    import shutil
    import time

    from tests.conftest import EXAMPLES

    (tmp_path / "images").mkdir()
    shutil.copy(EXAMPLES / "images" / "sum_even.png", tmp_path / "images")
    url = f"http://127.0.0.1:{closed_port()}/v1"
    started = time.monotonic()
    result = cli(
        tmp_path, "run", "images", "--out", "out", AUTORUST_DEFAULT__MODEL="gpt-4o",
        OPENAI_API_KEY=SECRET, AUTORUST_OCR="off", **{via: url},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert f"cannot reach the model endpoint {url}" in line and via.split("_")[0] in line
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*/result.json"))
    assert SECRET not in result.stdout + result.stderr


def test_the_default_endpoint_is_openais() -> None:
    from autorust.cli.probes import endpoint_url
    from autorust.graph.context import ModelSettings

    assert endpoint_url(ModelSettings(model="gpt-4o")) == "https://api.openai.com/v1"
