"""Bad configurations through the real CLI: one clear line naming the setting, exit code 2,
before any image is read or any model is called.

Observed on 3f763c6: 15 of 35 bad configurations ended in a Python traceback (595 lines for
``runs resume`` with the endpoint down), 3 were accepted silently (an unknown agent in ``-c``,
``--budget 0``) and a Cloud Function misconfiguration showed only after a paid vision call.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autorust.cli.main import app
from tests.support.bad_images import EXAMPLES, REPLIES

WIDE = {"COLUMNS": "250"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def garbage_file(tmp: Path) -> str:
    (tmp / "garbage.sqlite").write_bytes(b"this is not a database" * 100)
    return str(tmp / "garbage.sqlite")


def a_file(tmp: Path) -> Path:
    (tmp / "plain-file").write_text("x")
    return tmp / "plain-file"


def toml(text: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / "autorust.toml").write_text(text)


SCRIPTED = ["--scripted", str(REPLIES)]
MODEL = {"AUTORUST_DEFAULT__MODEL": "gpt-4o", "OPENAI_API_KEY": "sk-test-not-a-real-key-123"}
CF = {"AUTORUST_EXECUTOR__KIND": "cloud_function"}

# id, extra CLI args (callables get tmp_path), environment, setup, setting named, what is allowed
CASES: list[tuple[str, list, dict, Callable[[Path], None] | None, str, str]] = [
    ("slots zero", ["-c", "vision=0"], {}, None, "-c/--concurrency", ">= 1"),
    ("slots negative", ["-c", "coding=-2"], {}, None, "-c/--concurrency", ">= 1 (got '-2')"),
    ("slots not a number", ["-c", "vision=many"], {}, None, "-c/--concurrency", "whole number"),
    ("slots fraction", ["-c", "checker=1.5"], {}, None, "-c/--concurrency", "whole number"),
    ("slots without =", ["-c", "vision"], {}, None, "-c/--concurrency", "NAME=VALUE"),
    ("unknown agent in -c", ["-c", "visoin=2"], {}, None, "-c/--concurrency", "unknown agent"),
    ("iterations zero", ["-n", "0"], {}, None, "-n/--max-iterations", "greater than or equal"),
    ("iterations negative", ["-n", "-3"], {}, None, "-n/--max-iterations", "greater than"),
    ("iterations too many", ["-n", "1000"], {}, None, "-n/--max-iterations", "less than"),
    ("iterations not a number", ["-n", "many"], {}, None, "--max-iterations", "valid integer"),
    ("budget zero", ["--adaptive", "--budget", "0"], {}, None, "--budget", "whole number >= 1"),
    ("budget negative", ["--adaptive", "--budget", "-4"], {}, None, "--budget", ">= 1"),
    ("budget without adaptive", ["--budget", "6"], {}, None, "--budget", "--adaptive"),
    ("in-flight zero", ["--max-in-flight", "0"], {}, None, "--max-in-flight", ">= 1"),
    ("lease zero", ["--lease-seconds", "0"], {}, None, "--lease-seconds", "> 0"),
    ("shard out of range", ["--shard", "3/2"], {}, None, "--shard", "0 <= I < N"),
    ("unknown executor", ["--executor", "docker"], {}, None, "--executor", "local, cloud_function"),
    ("unknown prompt version", ["--prompt-version", "coding=v99"], {}, None, "--prompt-version",
     "available: v1"),
    ("prompt for unknown agent", ["--prompt-version", "codng=v1"], {}, None, "--prompt-version",
     "unknown agent 'codng'"),
    ("garbage checkpoint file", ["--checkpoint", garbage_file], {}, None, "--checkpoint",
     "not a usable SQLite checkpoint file"),
    ("checkpoint is a folder", ["--checkpoint", lambda t: str(t)], {}, None, "--checkpoint",
     "is a folder"),
    ("checkpoint under a file", ["--checkpoint", lambda t: str(a_file(t) / "c.sqlite")], {}, None,
     "--checkpoint", "cannot write"),
    ("checkpoint database down",
     ["--checkpoint", lambda t: f"postgresql://u:hunter2pw@127.0.0.1:{closed_port()}/db"], {},
     None, "--checkpoint", "cannot connect"),
    ("checkpoint of another kind", ["--checkpoint", "mysql://db/x"], {}, None, "--checkpoint",
     "postgresql:// URL"),
    ("out under a file", ["--out", lambda t: str(a_file(t) / "out")], {}, None, "--out",
     "cannot write"),
    ("out in /proc", ["--out", "/proc/autorust-out"], {}, None, "--out", "cannot write"),
    ("scripted folder missing", ["--scripted", "/nonexistent/replies"], {}, None, "--scripted",
     "not a folder"),
    ("env iterations garbage", [], {"AUTORUST_MAX_ITERATIONS": "abc"}, None,
     "AUTORUST_MAX_ITERATIONS", "valid integer"),
    ("env iterations zero", [], {"AUTORUST_MAX_ITERATIONS": "0"}, None, "AUTORUST_MAX_ITERATIONS",
     "greater than or equal to 1"),
    ("env temperature garbage", [], {"AUTORUST_DEFAULT__TEMPERATURE": "hot"}, None,
     "AUTORUST_DEFAULT__TEMPERATURE", "valid number"),
    ("env prompt versions not JSON", [], {"AUTORUST_PROMPT_VERSIONS": "coding=v1"}, None,
     "AUTORUST_PROMPT_VERSIONS", "not valid JSON"),
    ("env prompt version unknown", [], {"AUTORUST_PROMPT_VERSIONS": '{"coding": "v99"}'}, None,
     "AUTORUST_PROMPT_VERSIONS", "available: v1"),
    ("env executor unknown", [], {"AUTORUST_EXECUTOR__KIND": "docker"}, None,
     "AUTORUST_EXECUTOR__KIND", "'local', 'subprocess' or 'cloud_function'"),
    ("env OCR mode unknown", [], {"AUTORUST_OCR": "maybe"}, None, "AUTORUST_OCR",
     "'auto', 'on' or 'off'"),
    ("env limit negative", [], {"AUTORUST_EXECUTOR__LIMITS__TIMEOUT_S": "-1"}, None,
     "AUTORUST_EXECUTOR__LIMITS__TIMEOUT_S", "greater than 0"),
    ("env threshold too high", [], {"AUTORUST_FIGURE_THRESHOLD": "2"}, None,
     "AUTORUST_FIGURE_THRESHOLD", "less than or equal to 1"),
    ("env nested name misspelt", [], {"AUTORUST_VISION__MODLE": "gpt-4o"}, None,
     "AUTORUST_VISION__MODLE", "did you mean 'model'"),
    ("env name misspelt", [], {"AUTORUST_MAX_ITERATION": "4"}, None, "AUTORUST_MAX_ITERATION",
     "did you mean 'max_iterations'"),
    ("env home is a file", [], {"AUTORUST_HOME": "{tmp}/plain-file"}, a_file, "AUTORUST_HOME",
     "cannot write"),
    ("toml malformed", [], {}, toml("max_iterations = = 3\n[default\n"), "autorust.toml",
     "not valid TOML"),
    ("toml wrong type", [], {}, toml('max_iterations = "lots"\n'), "autorust.toml max_iterations",
     "valid integer"),
    ("toml unknown key", [], {}, toml("[default]\ntemprature = 0.2\n"),
     "autorust.toml [default] temprature", "did you mean 'temperature'"),
    ("toml out of range", [], {}, toml("[vision]\ntemperature = 5\n"),
     "autorust.toml [vision] temperature", "less than or equal to 2"),
    ("unsandboxed without opt-in", [], {"AUTORUST_EXECUTOR__KIND": "subprocess"}, None,
     "AUTORUST_EXECUTOR", "without isolation"),
    ("server down", ["--server", lambda t: f"http://127.0.0.1:{closed_port()}"], {}, None,
     "--server", "cannot reach"),
    ("server with local-only options",
     ["--server", "http://127.0.0.1:1", "-c", "coding=3", "--adaptive"], {}, None, "--server",
     "--concurrency, --adaptive cannot apply there"),
    ("cloud function without URL", [], CF, None, "AUTORUST_EXECUTOR", "cloud_function_url"),
    ("cloud function over http", [],
     CF | {"AUTORUST_EXECUTOR__CLOUD_FUNCTION_URL": "http://example.com/fn"}, None,
     "AUTORUST_EXECUTOR__CLOUD_FUNCTION_URL", "https"),
    ("cloud function without credentials", [],
     CF | {"AUTORUST_EXECUTOR__CLOUD_FUNCTION_URL": "https://fn.example.invalid/execute",
           "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"}, None,
     "AUTORUST_EXECUTOR__CLOUD_FUNCTION_URL", "no Google credentials"),
]  # fmt: skip

# without --scripted: the model configuration itself is wrong
MODEL_CASES: list[tuple[str, dict, str, str]] = [
    ("no model", {}, "model", "No model is configured"),
    ("model endpoint down",
     MODEL | {"AUTORUST_DEFAULT__BASE_URL": "http://127.0.0.1:{port}/v1"},
     "AUTORUST_DEFAULT__BASE_URL", "cannot reach the model endpoint"),
    ("model endpoint not http",
     MODEL | {"AUTORUST_DEFAULT__BASE_URL": "ftp://models.example/v1"},
     "AUTORUST_DEFAULT__BASE_URL", "must be http(s)://"),
]  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One valid image; the batch must never start (checked by making it explode)."""
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(EXAMPLES / "sum_even.png", images)
    monkeypatch.chdir(tmp_path)  # autorust.toml is read from the working directory
    monkeypatch.setenv("AUTORUST_HOME", str(tmp_path / ".autorust"))

    def no_batch(*args: object, **kwargs: object) -> None:
        raise AssertionError("the batch started despite a configuration error")

    import autorust.imaging.images
    import autorust.runtime.batch
    import autorust.runtime.remote

    monkeypatch.setattr(autorust.runtime.batch.BatchRun, "run", no_batch)
    monkeypatch.setattr(autorust.runtime.remote, "run_on_server", no_batch)
    monkeypatch.setattr(autorust.imaging.images, "load_image", no_batch)
    return images


def assert_one_clear_line(output: str, setting: str, allowed: str) -> None:
    assert "Traceback" not in output, output
    lines = [" ".join(line.split()) for line in output.splitlines()]
    if any(line.startswith("error:") for line in lines):
        (line,) = [line for line in lines if line.startswith("error:")]
    else:  # typer's own parse errors: a usage box around one message line
        (line,) = [line for line in lines if "Invalid value" in line]
    assert setting in line and allowed in line, line


@pytest.mark.parametrize(
    ("args", "env", "setup", "setting", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_configuration_is_one_clear_line_before_any_work(
    folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list,
    env: dict,
    setup: Callable[[Path], None] | None,
    setting: str,
    allowed: str,
) -> None:
    if setup:
        setup(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace("{tmp}", str(tmp_path)))
    resolved = [arg(tmp_path) if callable(arg) else arg for arg in args]
    scripted = [] if "--scripted" in resolved else SCRIPTED
    result = CliRunner().invoke(
        app, ["run", str(folder), *scripted, "--out", str(tmp_path / "out"), *resolved], env=WIDE
    )
    assert result.exit_code == 2, result.output
    assert_one_clear_line(result.output, setting, allowed)
    assert "hunter2pw" not in result.output, "a database password must not be shown"
    assert not list((tmp_path / "out").glob("*/result.json"))


@pytest.mark.parametrize(
    ("env", "setting", "allowed"), [pytest.param(*c[1:], id=c[0]) for c in MODEL_CASES]
)
def test_bad_model_configuration_stops_before_any_image(
    folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict,
    setting: str,
    allowed: str,
) -> None:
    port = closed_port()
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace("{port}", str(port)))
    result = CliRunner().invoke(app, ["run", str(folder), "--out", str(tmp_path / "out")], env=WIDE)
    assert result.exit_code == 2, result.output
    assert_one_clear_line(result.output, setting, allowed)
    assert "sk-test-not-a-real-key-123" not in result.output


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        pytest.param(["list", "--db", "{garbage}"], "not a usable SQLite", id="list garbage db"),
        pytest.param(["list", "--db", "postgresql://127.0.0.1:{port}/x"], "cannot connect",
                     id="list database down"),
        pytest.param(["resume", "t", "--db", "{tmp}/missing.sqlite"], "no checkpoint database",
                     id="resume without database"),
        pytest.param(["resume", "t", "--db", "postgresql://127.0.0.1:{port}/x"], "cannot connect",
                     id="resume database down"),
        pytest.param(["fork", "t", "--checkpoint", "c", "--prompt-version", "coding=v99",
                      "--db", "{garbage}"], "available: v1", id="fork unknown prompt version"),
    ],
)  # fmt: skip
def test_runs_commands_report_bad_stores_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], allowed: str
) -> None:
    monkeypatch.chdir(tmp_path)
    values = {"garbage": garbage_file(tmp_path), "port": str(closed_port()), "tmp": str(tmp_path)}
    resolved = [arg.format(**values) for arg in args]
    result = CliRunner().invoke(app, ["runs", *resolved], env=WIDE)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert allowed in " ".join(line.split())


@pytest.mark.bwrap
def test_runs_resume_with_the_model_endpoint_down_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed on 3f763c6: a 595-line traceback."""
    import json

    from tests.support.fake_openai import FakeOpenAI, replies_by_schema

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTORUST_HOME", str(tmp_path / ".autorust"))
    monkeypatch.setenv("AUTORUST_APPROVE_EXECUTION", "true")  # the run pauses before running
    monkeypatch.setenv("AUTORUST_OCR", "off")
    for name, value in MODEL.items():
        monkeypatch.setenv(name, value)
    import yaml

    script = yaml.safe_load((REPLIES / "sum_even.yaml").read_text())
    with FakeOpenAI(replies_by_schema(script)) as server:
        monkeypatch.setenv("AUTORUST_DEFAULT__BASE_URL", server.base_url)
        paused = CliRunner().invoke(
            app,
            ["run", str(EXAMPLES / "sum_even.png"), "--out", str(tmp_path / "out"),
             "--output", "quiet"],
            env=WIDE,
        )  # fmt: skip
        assert paused.exit_code == 1, paused.output  # awaiting approval: not passed yet
    (item,) = json.loads((tmp_path / "out" / "latest" / "summary.json").read_text())["items"]
    assert item["status"] == "running"
    # the server is gone now; resume must say so in one line, before calling anything
    result = CliRunner().invoke(app, ["runs", "resume", item["thread_id"], "--approve"], env=WIDE)
    assert result.exit_code == 2, result.output
    assert_one_clear_line(result.output, "AUTORUST_DEFAULT__BASE_URL", "cannot reach")
