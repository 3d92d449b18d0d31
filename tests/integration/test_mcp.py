"""``autorust mcp`` driven by the MCP SDK's own client: over stdio (the server is a subprocess
the client starts) and over Streamable HTTP on loopback. Runs the scripted examples; the runs
show in ``autorust runs list`` and ``runs show`` from the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import AnyUrl

from tests.support.cloud_function_server import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TOOLS = {"run_image", "run_folder", "status", "result", "list_runs", "cancel"}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTORUST_", "OPENAI_", "OTEL_"))}  # fmt: skip
    return env | {"AUTORUST_HOME": str(home), "AUTORUST_OCR": "off", "COLUMNS": "250"}


def _args(tmp_path: Path) -> list[str]:
    return ["-m", "autorust.cli.main", "mcp", "--scripted", str(EXAMPLES / "replies"),
            "--out", str(tmp_path / "out")]  # fmt: skip


async def _call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    reply = await session.call_tool(tool, arguments)
    assert not reply.isError, reply.content
    if reply.structuredContent is not None:
        content = reply.structuredContent
        return content.get("result", content) if set(content) == {"result"} else content
    return json.loads(reply.content[0].text)  # type: ignore[union-attr]


async def _exercise(session: ClientSession, tmp_path: Path) -> dict[str, str]:
    """The tools end to end; returns image name -> thread id."""
    await session.initialize()
    assert {tool.name for tool in (await session.list_tools()).tools} >= TOOLS

    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    reply = await session.call_tool(
        "run_image", {"path": str(EXAMPLES / "images" / "palindrome.png"), "wait": True},
        progress_callback=on_progress,
    )  # fmt: skip
    assert not reply.isError, reply.content
    waited = reply.structuredContent or json.loads(reply.content[0].text)  # type: ignore[union-attr]
    assert waited["status"] == "passed" and waited["iterations"] == 2
    assert "def " in waited["code"] and waited["verdict"]["passed"] is True
    assert waited["tokens"]["input"] > 0 and all(t["passed"] for t in waited["tests"])
    assert progress, "no progress notification while the run worked"

    data = base64.b64encode((EXAMPLES / "images" / "sum_even.png").read_bytes()).decode()
    handle = await _call(session, "run_image", image_base64=data, filename="sum_even.png")
    assert handle["status"] == "running"
    thread = handle["thread_id"]
    for _ in range(300):
        state = await _call(session, "status", thread_id=thread)
        if state["finished"]:
            break
        await asyncio.sleep(0.2)
    assert state["status"] == "passed", state
    assert (await _call(session, "result", thread_id=thread))["spec"]["title"]

    listed = await _call(session, "list_runs", status="passed")
    assert {row["thread_id"] for row in listed} == {waited["thread_id"], thread}
    assert (await _call(session, "cancel", thread_id=thread))["cancelled"] is False  # finished
    busy = await _call(session, "run_image", path=str(EXAMPLES / "images" / "reverse_words.png"))
    assert (await _call(session, "cancel", thread_id=busy["thread_id"]))["cancelled"] is True
    stopped = await _call(session, "status", thread_id=busy["thread_id"])
    assert stopped["status"] == "cancelled" and stopped["finished"] is True
    missing = await session.call_tool("status", {"thread_id": "nope"})
    assert missing.isError and "no run 'nope'" in missing.content[0].text  # type: ignore[union-attr]
    return {"palindrome": waited["thread_id"], "sum_even": thread}


def _cli_sees(tmp_path: Path, threads: dict[str, str]) -> None:
    home = tmp_path / ".autorust"
    listed = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "runs", "list", "--status=passed", "--jsonl"],
        cwd=tmp_path, env=_env(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = {json.loads(line)["thread_id"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert set(rows) == set(threads.values())
    assert all(row["status"] == "passed" for row in rows.values())
    shown = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "runs", "show", threads["palindrome"]],
        cwd=tmp_path, env=_env(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0 and "judge" in shown.stdout, shown.stdout + shown.stderr
    assert list((tmp_path / "out").glob("palindrome-*/solution.py"))


@pytest.mark.bwrap
async def test_mcp_over_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=_args(tmp_path), env=_env(tmp_path / ".autorust"),
        cwd=str(tmp_path),
    )  # fmt: skip
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        threads = await _exercise(session, tmp_path)
    _cli_sees(tmp_path, threads)


@pytest.mark.bwrap
async def test_mcp_runs_the_demo_folder_with_the_clis_verdicts(tmp_path: Path) -> None:
    from autorust.cli.main import DEMO_OUTCOMES

    params = StdioServerParameters(
        command=sys.executable, args=_args(tmp_path), env=_env(tmp_path / ".autorust"),
        cwd=str(tmp_path),
    )  # fmt: skip
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        progress: list[tuple[float, float | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total))

        reply = await session.call_tool(
            "run_folder", {"path": str(EXAMPLES / "images"), "wait": True},
            progress_callback=on_progress,
        )  # fmt: skip
        assert not reply.isError, reply.content
        finished = reply.structuredContent or json.loads(reply.content[0].text)  # type: ignore[union-attr]
        assert finished["not_processed"] == [] and len(finished["runs"]) == len(DEMO_OUTCOMES)
        outcomes = {Path(run["image"]).stem: run["status"] for run in finished["runs"]}
        assert progress and progress[-1] == (len(DEMO_OUTCOMES), len(DEMO_OUTCOMES)), progress
        assert all(total == len(DEMO_OUTCOMES) for _, total in progress)
        one = finished["runs"][0]["thread_id"]
        result = await _call(session, "result", thread_id=one)
        code_uri, result_uri = result["resources"]
        code = await session.read_resource(AnyUrl(code_uri))
        assert code.contents[0].text == result["code"] and result["code"]  # type: ignore[union-attr]
        full = await session.read_resource(AnyUrl(result_uri))
        assert json.loads(full.contents[0].text)["verdict"] == result["verdict"]  # type: ignore[union-attr]
    assert outcomes == DEMO_OUTCOMES


@pytest.mark.bwrap
async def test_a_run_paused_over_mcp_resumes_from_the_cli(tmp_path: Path) -> None:
    env = _env(tmp_path / ".autorust") | {"AUTORUST_APPROVE_EXECUTION": "true"}
    params = StdioServerParameters(
        command=sys.executable, args=_args(tmp_path), env=env, cwd=str(tmp_path)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        paused = await _call(
            session, "run_image", path=str(EXAMPLES / "images" / "sum_even.png"), wait=True
        )
        assert paused["status"] == "running" and paused["code"]
        state = await _call(session, "status", thread_id=paused["thread_id"])
        assert state["awaiting_approval"] and state["finished"] is False
    # its model replies were journaled (a resume never pays for them again)
    with sqlite3.connect(tmp_path / ".autorust" / "checkpoints.sqlite") as conn:
        journaled = conn.execute(
            "SELECT COUNT(*) FROM autorust_replies WHERE thread_id = ?", (paused["thread_id"],)
        ).fetchone()[0]
    assert journaled >= 2
    resumed = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "runs", "resume", paused["thread_id"][:12],
         "--approve", "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0 and "passed" in resumed.stdout, resumed.stdout + resumed.stderr


@pytest.mark.bwrap
async def test_mcp_over_streamable_http(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, *_args(tmp_path), "--transport", "http", "--port", str(port)],
        cwd=tmp_path, env=_env(tmp_path / ".autorust"), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        _wait_listening(server, url)
        async with (
            streamable_http_client(url) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            threads = await _exercise(session, tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _cli_sees(tmp_path, threads)


TOKEN = "s3cret-token-for-the-mcp-test-0123456789"


def _wait_listening(server: subprocess.Popen[bytes], url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.1)


async def test_mcp_over_http_with_a_token_refuses_requests_without_it(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, *_args(tmp_path), "--transport", "http", "--port", str(port)],
        cwd=tmp_path, env=_env(tmp_path / ".autorust") | {"AUTORUST_MCP_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    try:
        _wait_listening(server, url)
        bare = httpx.post(url, json=hello, headers=accept, timeout=10)
        forged = accept | {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
        wrong = httpx.post(url, json=hello, headers=forged, timeout=10)
        assert (bare.status_code, wrong.status_code) == (401, 401)
        assert TOKEN not in bare.text + wrong.text
        async with (
            httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client,
            streamable_http_client(url, http_client=client) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert {tool.name for tool in (await session.list_tools()).tools} >= TOOLS
            assert await _call(session, "list_runs") == []
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert TOKEN not in stderr.decode()


@pytest.mark.parametrize(
    ("host", "token", "says"),
    [("0.0.0.0", None, "needs a bearer token: set AUTORUST_MCP_TOKEN"),
     ("127.0.0.1", "abc123xyz", "AUTORUST_MCP_TOKEN: too short")],
)  # fmt: skip
def test_mcp_over_http_refuses_an_open_or_weak_setup_in_one_line(
    tmp_path: Path, host: str, token: str | None, says: str
) -> None:
    env = _env(tmp_path / ".autorust") | ({"AUTORUST_MCP_TOKEN": token} if token else {})
    done = subprocess.run(
        [sys.executable, *_args(tmp_path), "--transport", "http", "--host", host,
         "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], lines
    assert token is None or token not in lines[0]
