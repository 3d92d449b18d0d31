"""An API key in the environment never lands in a file the run writes, an error, or the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.reporting.item_files import write_item
from autorust.reporting.logs import setup_logging
from autorust.reporting.report import write_reports
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.integration.test_model_faults import sum_even_replies
from tests.support.fake_openai import FakeOpenAI, Fault

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-SECRET-7f3a9c1e5b"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    yield
    setup_logging(None)


def leaks(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]


async def run_batch(server: FakeOpenAI, tmp_path: Path, program: str | None = None):
    setup_logging(tmp_path / "out" / "autorust.log.jsonl")
    config = AutorustConfig(
        default={"model": "gpt-4o-mini", "base_url": server.base_url, "max_retries": 0},
        home=str(tmp_path / ".autorust"),
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        results = await BatchRun([ROOT / "examples/images/sum_even.png"], config, saver).run()
    for result in results:
        write_item(tmp_path / "out", result)
    write_reports(tmp_path / "out", results)
    return results


async def test_key_is_in_no_file_the_run_writes(tmp_path: Path) -> None:
    with FakeOpenAI(sum_even_replies) as server:
        (result,) = await run_batch(server, tmp_path)
        assert all(h["authorization"] == f"Bearer {KEY}" for h in server.headers)  # it was used
    assert result.status == "passed"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "checkpoints.sqlite" for p in files)
    assert any(p.name == "autorust.log.jsonl" for p in files)
    assert leaks(tmp_path) == []


async def test_rejected_key_error_does_not_echo_it(tmp_path: Path) -> None:
    def reject(request: dict[str, Any]) -> Fault:
        return Fault(401, body={"error": {"message": f"Incorrect API key provided: {KEY}"}})

    with FakeOpenAI(reject) as server:
        (result,) = await run_batch(server, tmp_path)
    assert result.status == "error"
    assert "rejected the credentials (HTTP 401)" in (result.error or "")
    assert KEY not in (result.error or "")
    assert leaks(tmp_path) == []


async def test_generated_code_cannot_read_the_key(tmp_path: Path) -> None:
    from autorust.graph.state import Spec
    from autorust.nodes.support.execution import build_job
    from autorust.sandbox.factory import make_executor

    spec = Spec(title="env", interface="stdio", description="print the environment",
                tests=[{"name": "t", "stdin": "", "expected_stdout": "x"}])  # fmt: skip
    config = AutorustConfig()
    job, _ = build_job(spec, spec.tests, "import os; print(dict(os.environ))", config)
    result = await make_executor(config.executor).execute(job)
    assert KEY not in result.stdout + result.stderr
    assert "OPENAI_API_KEY" not in result.stdout


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_an_error_body_echoing_the_authorization_header_leaks_nowhere(
    status: int, tmp_path: Path
) -> None:
    """Observed on 3f763c6: the shown error was redacted but the full bearer key was stored in
    plain text in .autorust/checkpoints.sqlite (3 of 3 cases)."""
    headers = "{'Authorization': '{authorization}', 'x-request-id': '42'}"
    echo = {"error": {"message": f"upstream refused request with headers {headers}"}}

    def echoing(request: dict[str, Any]) -> Fault:
        return Fault(status, body=echo, headers={"retry-after": "0"})

    with FakeOpenAI(echoing) as server:
        (result,) = await run_batch(server, tmp_path)
        assert all(h["authorization"] == f"Bearer {KEY}" for h in server.headers)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"checkpoints.sqlite", "autorust.log.jsonl", "result.json"} <= {p.name for p in written}
    assert leaks(tmp_path) == []
    assert KEY[-10:].encode() not in b"".join(p.read_bytes() for p in written)
    assert result.status == "error"
    assert f"HTTP {status}" in (result.error or "") and "x-request-id" in (result.error or "")
    assert "[REDACTED]" in (result.error or "")


async def test_a_node_failure_quoting_a_secret_leaves_no_trace_in_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LangGraph keeps a failed task's error with the thread: a node's exception that quotes a
    secret (here a sandbox client echoing its bearer token) must reach it redacted."""
    import autorust.nodes.interpreter as interpreter
    from autorust.nodes.support.shared import RedactedNodeError
    from autorust.runtime.runner import run_image
    from autorust.storage.checkpoints import open_checkpointer
    from tests.support.scripted import scripted_task

    monkeypatch.setenv("AUTORUST_CF_TOKEN", KEY)

    async def leaky(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"function refused Authorization: Bearer {KEY} ({KEY})")

    monkeypatch.setattr(interpreter, "run_tests", leaky)
    image, config = scripted_task(tmp_path, "sum_even", yaml.safe_load(
        (ROOT / "examples" / "replies" / "sum_even.yaml").read_text()))  # fmt: skip
    async with open_checkpointer(config.checkpoint_path) as saver:
        with pytest.raises(RedactedNodeError) as raised:
            await run_image(image, config, saver)
    assert KEY not in str(raised.value) and "[REDACTED]" in str(raised.value)
    assert leaks(tmp_path) == []
