"""Error texts, the node retry predicate, retry-after parsing, redaction of echoed headers."""

from __future__ import annotations

import subprocess
import sys

import httpx2
import openai
import pytest

from autorust.llm.errors import (
    InvalidModelOutputError,
    ModelAuthError,
    ModelRequestError,
    ModelUnavailableError,
    is_transient,
    server_text,
)
from autorust.llm.http_trace import retry_after_s
from autorust.redaction import redact
from tests.support.fake_openai import LLAMA_CPP_PYTHON_500

KEY = "sk-unit-SECRET-1234567890"


def test_server_text_drops_the_traceback_and_keeps_one_short_line() -> None:
    text = server_text({"error": {"message": LLAMA_CPP_PYTHON_500}})
    assert "Input should be 'text' or 'json_object'" in text
    assert "File" not in text and "app.py" not in text and "\n" not in text
    assert len(server_text("x" * 5000)) <= 240
    assert server_text({"object": "error", "message": "bad schema", "code": 400}) == "bad schema"
    assert server_text('{"detail": "Not Found"}') == "Not Found"


def test_server_text_never_carries_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    text = server_text({"error": {"message": f"headers: {{'authorization': 'Bearer {KEY}'}}"}})
    assert KEY not in text and "[REDACTED]" in text


@pytest.mark.parametrize(
    "echo",
    [
        f"Authorization: Bearer {KEY}",
        f'{{"authorization": "Bearer {KEY}"}}',
        f"{{'Authorization': 'Bearer {KEY}'}}",
        f'\\"authorization\\": \\"Bearer {KEY}\\"',
        f"api-key: {KEY}",
        f"bearer {KEY}",
    ],
)
def test_every_echo_of_the_key_is_redacted(echo: str) -> None:
    # the key is not in the environment here: the shapes alone must catch it
    assert "SECRET-1234567890" not in redact(f"upstream said: {echo}")


def test_error_messages_are_redacted_and_keep_the_call() -> None:
    from autorust.graph.state import ModelCall

    call = ModelCall(agent="coding", iteration=0, input_tokens=5)
    error = ModelUnavailableError(f"coding agent (model m at h): boom Bearer {KEY}", call)
    assert KEY not in str(error)
    assert error.state_update()["model_calls"] == [call]
    assert error.state_update()["status"] == "error"


def _status_error(status: int) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, request=request, json={"error": {"message": "x"}})
    return openai.APIStatusError("x", response=response, body=None)


def test_the_node_retries_only_transient_errors_the_model_layer_did_not_handle() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1")
    assert is_transient(openai.APIConnectionError(request=request))
    assert is_transient(openai.APITimeoutError(request=request))
    assert is_transient(_status_error(503)) and is_transient(_status_error(429))
    for status in (400, 401, 403, 404, 422):
        assert not is_transient(_status_error(status)), status
    for final in (ModelUnavailableError, ModelRequestError, ModelAuthError):
        assert not is_transient(final("x"))  # retried (or not retryable) already
    assert not is_transient(InvalidModelOutputError("x"))
    assert not is_transient(ValueError("a bug"))


def test_retry_after_in_seconds_milliseconds_or_a_date() -> None:
    assert retry_after_s(httpx2.Headers({"retry-after": "3"})) == 3
    assert retry_after_s(httpx2.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(httpx2.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_s(httpx2.Headers({})) is None


def test_importing_the_model_layer_leaves_logging_alone() -> None:
    script = (
        "import logging\n"
        "names = ('httpx', 'httpx2', 'openai', 'openai._base_client', '')\n"
        "def snap(): return [(logging.getLogger(n).level, len(logging.getLogger(n).handlers))"
        " for n in names]\n"
        "before = snap()\n"
        "import autorust.llm.structured, autorust.nodes.support.shared, autorust.graph.workflow\n"
        "assert snap() == before, (before, snap())\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
