"""Endpoint failures over real HTTP: what is retried, what is not, how long a call may take,
what the error says, and that every reply's usage is counted even when the call fails."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.llm.errors import ModelUnavailableError
from autorust.llm.models import DEFAULT_CALL_BUDGET_S
from autorust.reporting.report import write_reports
from autorust.runtime.batch import BatchRun
from autorust.storage.checkpoints import open_checkpointer
from tests.support.coding_call import ask_coder
from tests.support.fake_openai import (
    Completion,
    FakeOpenAI,
    Fault,
    RawReply,
    Reply,
    no_choices,
    replies_by_schema,
    schema_name,
)

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "examples/images/sum_even.png"
REPLIES = yaml.safe_load((ROOT / "examples" / "replies" / "sum_even.yaml").read_text())
CODE = {"source": "def f():\n    return 1\n", "notes": ""}


def config_for(server: FakeOpenAI, home: Path, **coding: Any) -> AutorustConfig:
    return AutorustConfig(
        default={"model": "m1", "base_url": server.base_url, "max_retries": 3},
        coding=coding,
        home=str(home),
        max_regenerations=2,
    )


def sequence(*replies: Reply, then: Reply | None = None):
    """Replies in order, then ``then`` (default: the valid code) forever."""
    queue = iter(replies)
    return lambda request: next(queue, then if then is not None else CODE)


def coding_fails(reply: Reply):
    """The example's replies for vision and checker; ``reply`` for every coding request."""
    script = replies_by_schema(REPLIES)
    return lambda request: reply if schema_name(request) == "CodeArtifact" else script(request)


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (RawReply(b"<html>502 from the proxy</html>", content_type="text/html"), "not JSON"),
        (no_choices(usage=(11, 0)), "no choices"),
        (Completion(None), "no content"),  # null content
        (Completion(""), "no content"),
    ],
)
async def test_a_broken_200_is_retried_and_named(
    broken: Reply, reason: str, tmp_path: Path
) -> None:
    """Observed on 3f763c6: a non-JSON body raised JSONDecodeError and empty choices an
    IndexError, neither retried nor naming the agent or endpoint."""
    with FakeOpenAI(sequence(broken)) as server:
        code, call = await ask_coder(config_for(server, tmp_path))
        served = dict(server.usage)
    assert code.source == CODE["source"]
    assert call.retries == 1 and reason in call.transient_errors[0]
    assert (call.input_tokens, call.output_tokens) == (
        served["prompt_tokens"],
        served["completion_tokens"],
    )


async def test_a_persistently_broken_endpoint_fails_naming_agent_host_and_model(
    tmp_path: Path,
) -> None:
    with FakeOpenAI(sequence(then=no_choices(usage=(7, 0)))) as server:
        with pytest.raises(ModelUnavailableError) as info:
            await ask_coder(config_for(server, tmp_path, max_retries=2))
        requests = len(server.requests)
    message = str(info.value)
    assert message.startswith(f"coding agent (model m1 at {server.host}):")
    assert "reply has no choices" in message and "gave up after 2 retries" in message
    assert requests == 3
    assert info.value.call is not None and info.value.call.input_tokens == 21  # 3 x 7


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_deterministic_errors_are_not_retried(status: int, tmp_path: Path) -> None:
    body = {"error": {"message": 'model "m1" not found\n\nTraceback (most recent call last):\n'
                                 '  File "/srv/app.py", line 1'}}  # fmt: skip
    with FakeOpenAI(coding_fails(Fault(status, body=body))) as server:
        config = config_for(server, tmp_path, structured_output="prompt")
        started = time.monotonic()
        async with open_checkpointer(config.checkpoint_path) as saver:
            (result,) = await BatchRun([IMAGE], config, saver).run()
        elapsed = time.monotonic() - started
    assert elapsed < 3  # 3f763c6: ~12 s per item in node retries
    coding = [r for r in server.requests if schema_name(r) == "CodeArtifact"]
    assert len(coding) == 1, "the node must not retry a deterministic error"
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith(f"coding agent (model m1 at {server.host}): the endpoint ")
    assert f"HTTP {status}" in result.error
    assert "Traceback" not in result.error and "app.py" not in result.error


async def test_a_hanging_endpoint_is_bounded_by_the_call_budget(tmp_path: Path) -> None:
    """Observed on 3f763c6: client retries x node retries x timeout, up to ~30 minutes."""
    assert DEFAULT_CALL_BUDGET_S <= 180
    with FakeOpenAI(coding_fails(Fault(503, delay_s=20))) as server:
        config = config_for(server, tmp_path, call_budget_s=2.0, timeout_s=600, max_retries=10)
        started = time.monotonic()
        async with open_checkpointer(config.checkpoint_path) as saver:
            (result,) = await BatchRun([IMAGE], config, saver).run()
        elapsed = time.monotonic() - started
    assert result.status == "error"
    assert "coding agent (model m1 at" in (result.error or "")
    assert "call budget" in (result.error or "")
    assert elapsed < 5, f"{elapsed:.1f}s: the budget must bound request timeouts and retries"


async def test_retry_after_is_honoured_and_one_beyond_the_budget_gives_up_at_once(
    tmp_path: Path,
) -> None:
    with FakeOpenAI(sequence(Fault(429, headers={"retry-after": "1"}))) as server:
        started = time.monotonic()
        _, call = await ask_coder(config_for(server, tmp_path))
        assert time.monotonic() - started >= 1.0
    assert call.retries == 1 and call.transient_errors == ["HTTP 429"]

    with FakeOpenAI(sequence(then=Fault(429, headers={"retry-after": "600"}))) as server:
        started = time.monotonic()
        with pytest.raises(ModelUnavailableError, match="call budget"):
            await ask_coder(config_for(server, tmp_path, call_budget_s=30))
        assert time.monotonic() - started < 2 and len(server.requests) == 1


async def test_usage_of_a_failed_call_is_recorded_and_totals_match_the_server(
    tmp_path: Path,
) -> None:
    """Observed on 3f763c6: the usage of rejected and regenerated replies before a failure was
    dropped (2,399 prompt tokens, 11.7 %, in one run)."""
    coding_replies = itertools.chain(
        ["{not json", Completion('{"source": "print(', "length")],
        itertools.repeat(Fault(500)),
    )
    script = replies_by_schema(REPLIES)

    def responder(request: dict[str, Any]) -> Reply:
        return next(coding_replies) if schema_name(request) == "CodeArtifact" else script(request)

    with FakeOpenAI(responder) as server:
        config = config_for(server, tmp_path, max_retries=1)
        async with open_checkpointer(config.checkpoint_path) as saver:
            (result,) = await BatchRun([IMAGE], config, saver).run()
        served = dict(server.usage)
    assert result.status == "error" and "kept failing" in (result.error or "")
    calls = result.state.model_calls  # type: ignore[union-attr]
    coding = next(c for c in calls if c.agent == "coding")
    assert len(coding.regenerations) == 2 and coding.retries == 1
    assert coding.input_tokens > 0
    summary = write_reports(tmp_path / "out", [result])
    assert (summary.usage.total.input_tokens, summary.usage.total.output_tokens) == (
        served["prompt_tokens"],
        served["completion_tokens"],
    )
