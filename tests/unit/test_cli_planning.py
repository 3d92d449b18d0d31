"""``autorust run``'s three steps (#27): planning does every offline check and nothing online;
the probes connect; the sandbox executor is started and closed by one context manager."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from autorust.cli import probes
from autorust.cli.errors import ConfigError
from autorust.cli.planning import BatchPlan, RunRequest, plan_batch
from tests.conftest import EXAMPLES


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A clean working folder and home; every TCP connection attempt recorded and refused."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTORUST_HOME", str(tmp_path / "home"))
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_a_scripted_plan_is_typed_and_complete(tmp_path: Path, offline: list[Any]) -> None:
    request = RunRequest(
        path=EXAMPLES / "images", scripted=EXAMPLES / "replies", out=tmp_path / "out", force=True
    )
    plan = plan_batch(request)
    assert isinstance(plan, BatchPlan)
    assert len(plan.images) == len(list((EXAMPLES / "images").glob("*.png")))
    assert plan.config.provider == "scripted" and plan.output_dir == tmp_path / "out"
    assert plan.options.force and plan.force and plan.prices is not None
    assert plan.model_agents == ["vision", "coding", "checker"] and plan.notes == []
    assert offline == []


def test_planning_never_connects_the_endpoint_probe_does(
    tmp_path: Path, offline: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTORUST_DEFAULT__MODEL", "some-model")
    monkeypatch.setenv("AUTORUST_DEFAULT__BASE_URL", "http://127.0.0.1:9/v1")
    plan = plan_batch(RunRequest(path=EXAMPLES / "images", out=tmp_path / "out"))
    assert offline == []  # every offline check passed without a connection
    with pytest.raises(ConfigError) as raised:
        probes.check_model_endpoints(plan.config, plan.model_agents)
    assert raised.value.setting == "AUTORUST_DEFAULT__BASE_URL"
    assert "cannot reach the model endpoint" in raised.value.problem
    assert offline == [("127.0.0.1", 9)]


def test_the_first_offline_problem_in_order(tmp_path: Path, offline: list[Any]) -> None:
    """Flags come before the configuration, the configuration before the inputs."""
    bad = RunRequest(path=tmp_path / "missing", budget=0, max_iterations=0)
    with pytest.raises(ConfigError) as raised:
        plan_batch(bad)
    assert raised.value.setting == "--budget"
    with pytest.raises(ConfigError) as raised:
        plan_batch(bad.model_copy(update={"budget": None}))
    assert raised.value.setting == "-n/--max-iterations"
    with pytest.raises(ConfigError) as raised:
        plan_batch(bad.model_copy(update={"budget": None, "max_iterations": None}))
    assert raised.value.line() == f"{tmp_path / 'missing'}: no such file or folder"


def test_an_unusable_price_table_is_a_planning_error(
    tmp_path: Path, offline: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "prices.toml").write_text("not [valid", encoding="utf-8")
    monkeypatch.setenv("AUTORUST_PRICE_TABLE", str(tmp_path / "prices.toml"))
    request = RunRequest(path=EXAMPLES / "images", scripted=EXAMPLES / "replies")
    with pytest.raises(ConfigError) as raised:
        plan_batch(request)
    assert raised.value.setting == "AUTORUST_PRICE_TABLE"


def test_the_started_executor_is_closed_when_the_body_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, closed = object(), []

    async def start(settings: Any) -> Any:
        return made

    async def close(executor: Any) -> None:
        closed.append(executor)

    monkeypatch.setattr(probes, "check_executor", start)
    monkeypatch.setattr(probes, "close_executor", close)

    async def body() -> None:
        async with probes.started_executor(None) as executor:  # type: ignore[arg-type]
            assert executor is made
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        asyncio.run(body())
    assert closed == [made]


def test_scripted_replies_must_be_a_folder_for_run_and_mcp_alike(tmp_path: Path) -> None:
    import subprocess
    import sys

    from autorust.cli.config_checks import scripted_overrides

    assert scripted_overrides(None) == {}
    assert scripted_overrides(tmp_path)["scripted_replies"] == str(tmp_path)
    missing = tmp_path / "no-such-folder"
    with pytest.raises(ConfigError, match="is not a folder of replies"):
        scripted_overrides(missing)
    for command in (["run", str(tmp_path)], ["mcp"]):
        done = subprocess.run(
            [sys.executable, "-m", "autorust.cli.main", *command, "--scripted", str(missing)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        assert done.returncode != 0 and len(lines) == 1, (command, lines)
        assert "--scripted" in lines[0] and "is not a folder of replies" in lines[0]
