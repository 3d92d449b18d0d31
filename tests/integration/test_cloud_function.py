"""The Cloud Function backend, served for real by functions-framework on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from autorust.sandbox.base import ExecutorSettings, Job, Limits
from autorust.sandbox.cloud_function.client import (
    CloudFunctionAuthError,
    CloudFunctionError,
    CloudFunctionExecutor,
)
from autorust.sandbox.factory import make_executor
from tests.support.cloud_function_server import (
    cloud_function,
    service_account_key,
    token_endpoint,
)

pytestmark = pytest.mark.cloud_function

TOKEN = "local-test-token"

PROGRAMS: list[tuple[str, Job]] = [
    ("stdout", Job(files={"main.py": "print('hello', 6 * 7)"})),
    ("exit code", Job(files={"main.py": "import sys; print('bye'); sys.exit(3)"})),
    ("exception", Job(files={"main.py": "def f():\n    raise ValueError('boom')\nf()"})),
    ("stdin", Job(files={"main.py": "import sys; print(sys.stdin.read().upper())"}, stdin="abc\n")),
    (
        "collected file",
        Job(
            files={"main.py": "open('out.png', 'wb').write(b'\\x89PNG fake')"},
            collect=["*.png"],
        ),
    ),
    ("timeout", Job(files={"main.py": "while True: pass"}, limits=Limits(timeout_s=1))),
    (
        "truncation",
        Job(files={"main.py": "print('x' * 5000)"}, limits=Limits(max_output_bytes=1024)),
    ),
]


@pytest.fixture(scope="module")
def function_url():
    with cloud_function(token=TOKEN) as url:
        yield url


def _comparable(result) -> dict:
    return {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr_tail": result.stderr.strip().splitlines()[-1:] if result.stderr else [],
        "timed_out": result.timed_out,
        "truncated": result.truncated,
        "files": result.files,
    }


@pytest.mark.parametrize(("label", "job"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
async def test_same_results_as_the_local_sandbox(function_url: str, label: str, job: Job) -> None:
    remote = CloudFunctionExecutor(function_url, token_provider=lambda audience: TOKEN)
    local = make_executor(ExecutorSettings(kind="local"))
    remote_result, local_result = await remote.execute(job), await local.execute(job)
    assert remote_result.backend == "cloud_function"
    assert _comparable(remote_result) == _comparable(local_result), label


async def test_exception_traceback_comes_back(function_url: str) -> None:
    remote = CloudFunctionExecutor(function_url, token_provider=lambda audience: TOKEN)
    result = await remote.execute(PROGRAMS[2][1])
    assert result.exit_code == 1 and "ValueError: boom" in result.stderr


async def test_service_account_id_token_via_google_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real google-auth path: key file -> JWT grant at a loopback token endpoint -> bearer."""
    with token_endpoint(audience="http://127.0.0.1/") as (token_uri, grants, issued):
        monkeypatch.setenv(
            "GOOGLE_APPLICATION_CREDENTIALS",
            str(service_account_key(tmp_path / "key.json", token_uri)),
        )
        with cloud_function(token=issued) as url:  # accepts only the token the endpoint issued
            result = await CloudFunctionExecutor(url).execute(PROGRAMS[0][1])
    assert result.stdout == "hello 42\n"
    assert len(grants) == 1
    assert grants[0]["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"


async def test_token_reaches_the_function(function_url: str) -> None:
    executor = CloudFunctionExecutor(function_url, token_provider=lambda audience: TOKEN)
    result = await executor.execute(PROGRAMS[0][1])
    assert result.stdout == "hello 42\n"


async def test_wrong_token_is_a_clear_auth_error(function_url: str) -> None:
    executor = CloudFunctionExecutor(function_url, token_provider=lambda audience: "wrong")
    with pytest.raises(CloudFunctionAuthError, match=r"HTTP 401.*roles/run.invoker") as info:
        await executor.execute(PROGRAMS[0][1])
    assert "wrong" not in str(info.value)


async def test_missing_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    # keep google-auth's metadata-server probe on loopback (nothing listens on port 9)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent")
    executor = CloudFunctionExecutor("https://example.invalid/execute")
    with pytest.raises(CloudFunctionAuthError, match="gcloud auth application-default login"):
        await executor.execute(PROGRAMS[0][1])


async def test_oversized_payload_is_refused_before_sending() -> None:
    executor = CloudFunctionExecutor(
        "https://example.invalid/execute", token_provider=lambda a: TOKEN, max_payload_bytes=2_000
    )
    with pytest.raises(CloudFunctionError, match="over the 2000-byte request limit"):
        await executor.execute(Job(files={"main.py": "#" * 5_000}))


async def test_server_errors_are_retried_then_reported() -> None:
    import httpx

    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(503, text="unavailable")
        return httpx.Response(200, json={"exit_code": 0, "stdout": "ok\n"})

    executor = CloudFunctionExecutor(
        "http://127.0.0.1:9/",
        token_provider=lambda a: TOKEN,
        backoff_s=0.01,
        transport=httpx.MockTransport(flaky),
    )
    result = await executor.execute(PROGRAMS[0][1])
    assert result.stdout == "ok\n" and len(calls) == 3

    always_down = CloudFunctionExecutor(
        "http://127.0.0.1:9/",
        token_provider=lambda a: TOKEN,
        backoff_s=0.01,
        max_retries=2,
        transport=httpx.MockTransport(lambda r: httpx.Response(503)),
    )
    result = await always_down.execute(PROGRAMS[0][1])
    assert result.sandbox_error and "failed 3 times (last: HTTP 503)" in result.sandbox_error
    assert result.exit_code is None


async def test_a_delivered_job_is_never_retried() -> None:
    """The function answered 500 or the connection broke after delivery: the job may have run
    (and may be what broke it), so it is reported as a sandbox error after ONE attempt."""
    import httpx

    for answer in (
        lambda request: httpx.Response(500),
        lambda request: (_ for _ in ()).throw(httpx.RemoteProtocolError("peer closed")),
    ):
        calls: list[int] = []

        def handler(request: httpx.Request, answer=answer, calls=calls) -> httpx.Response:
            calls.append(1)
            return answer(request)

        executor = CloudFunctionExecutor(
            "http://127.0.0.1:9/",
            token_provider=lambda a: TOKEN,
            backoff_s=0.01,
            transport=httpx.MockTransport(handler),
        )
        result = await executor.execute(PROGRAMS[0][1])
        assert len(calls) == 1 and result.sandbox_error


async def test_check_obtains_a_token_and_reports_missing_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    executor = CloudFunctionExecutor(
        "https://example.invalid/execute", token_provider=lambda a: seen.append(a) or TOKEN
    )
    await executor.check()
    assert seen == ["https://example.invalid/execute"]
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent")
    with pytest.raises(CloudFunctionAuthError, match="gcloud auth application-default login"):
        await CloudFunctionExecutor("https://example.invalid/execute").check()


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(CloudFunctionError, match="must use https"):
        CloudFunctionExecutor("http://functions.example.com/execute")
