"""Client for the Cloud Function backend: HTTPS POST with a Google ID token.

The token's audience is the function URL (``google.oauth2.id_token.fetch_id_token``), so the
caller needs ``roles/cloudfunctions.invoker`` (gen2: ``roles/run.invoker``) on the function.
Tests inject a token provider or point a service-account key at a local token endpoint; the
token itself is never logged or put in an exception.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from urllib.parse import urlparse

import httpx
from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
from pydantic import ValidationError

from autorust.sandbox.base import Job, JobResult

TokenProvider = Callable[[str], str]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
TOKEN_LIFETIME_S = 50 * 60  # Google ID tokens live one hour
# answers that mean the request never reached the function's code (Google's front end)
RETRYABLE_STATUS = {429, 502, 503, 504}


class CloudFunctionError(RuntimeError):
    """The Cloud Function could not run the job (the message says why and what to do)."""


class CloudFunctionAuthError(CloudFunctionError):
    pass


def google_id_token(audience: str) -> str:
    """An ID token for ``audience`` from the environment's Google credentials."""
    import google.auth.transport.requests
    import google.oauth2.id_token

    return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)


class CloudFunctionExecutor:
    name = "cloud_function"

    def __init__(
        self,
        url: str,
        *,
        token_provider: TokenProvider = google_id_token,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        request_margin_s: float = 30.0,
        max_payload_bytes: int = 4_000_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "https" and parsed.hostname not in LOOPBACK_HOSTS:
            raise CloudFunctionError(f"the Cloud Function URL must use https (got {url!r})")
        self.url = url
        self.token_provider = token_provider
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.request_margin_s = request_margin_s
        self.max_payload_bytes = max_payload_bytes
        self.transport = transport
        self._token: tuple[str, float] | None = None
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    async def _bearer(self) -> str:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        try:
            token = await asyncio.to_thread(self.token_provider, self.url)
        except DefaultCredentialsError:
            raise CloudFunctionAuthError(
                "no Google credentials to call the Cloud Function: run `gcloud auth "
                "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
                "service-account key file (ID tokens need a service account or the metadata "
                "server)"
            ) from None
        except (RefreshError, TransportError) as exc:
            raise CloudFunctionAuthError(
                f"could not obtain a Google ID token for {self.url}: {type(exc).__name__}"
            ) from None
        self._token = (token, time.monotonic() + TOKEN_LIFETIME_S)
        return token

    async def check(self) -> None:
        """The URL was validated at construction; obtain an ID token now (auth errors raise)."""
        await self._bearer()

    async def aclose(self) -> None:
        self._token = None
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        """One client (and its connections) per event loop: building one costs milliseconds."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._client_loop is not loop:
            self._client = httpx.AsyncClient(transport=self.transport)
            self._client_loop = loop
        return self._client

    async def execute(self, job: Job) -> JobResult:
        """The job's result. Only deliveries that surely did not run the job are retried
        (connection refused, 429, 502-504 from Google's front end): a job is never run twice,
        so a job that broke something cannot be retried into breaking it again. When the
        function cannot be reached or fails itself, the result carries ``sandbox_error``."""
        payload = job.model_dump_json().encode()
        if len(payload) > self.max_payload_bytes:
            raise CloudFunctionError(
                f"job is {len(payload)} bytes, over the {self.max_payload_bytes}-byte request "
                "limit of the Cloud Function; shrink the program or its test data"
            )
        timeout = job.limits.timeout_s + self.request_margin_s
        problem = "no attempt"
        client = self._http()
        for attempt in range(self.max_retries + 1):
            headers = {
                "Authorization": f"Bearer {await self._bearer()}",
                "Content-Type": "application/json",
            }
            try:
                response = await client.post(
                    self.url, content=payload, headers=headers, timeout=timeout
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                problem = f"connection failed ({type(exc).__name__})"  # never delivered
            except httpx.TimeoutException:
                return self._failed(f"no answer within {timeout:.0f}s")
            except httpx.TransportError as exc:  # delivered, then the connection broke
                return self._failed(f"the connection broke during the job ({type(exc).__name__})")
            else:
                if response.status_code == 200:
                    return self._parse(response)
                if response.status_code in (401, 403):
                    self._token = None
                    raise CloudFunctionAuthError(
                        f"the Cloud Function refused the call (HTTP {response.status_code}): "
                        "grant the caller roles/cloudfunctions.invoker (gen2: "
                        "roles/run.invoker) on the function, and check the URL is the "
                        "token's audience"
                    )
                if response.status_code == 413:
                    raise CloudFunctionError("the Cloud Function rejected the job as too large")
                if response.status_code not in RETRYABLE_STATUS:
                    if response.status_code < 500:
                        raise CloudFunctionError(
                            f"the Cloud Function rejected the job (HTTP "
                            f"{response.status_code}): {response.text[:300]}"
                        )
                    return self._failed(f"HTTP {response.status_code}")
                problem = f"HTTP {response.status_code}"
            if attempt < self.max_retries:
                await asyncio.sleep(self.backoff_s * 2**attempt * (0.5 + random.random()))
        attempts = self.max_retries + 1
        return self._failed(f"failed {attempts} times (last: {problem})")

    def _failed(self, problem: str) -> JobResult:
        return JobResult(
            sandbox_error=f"the Cloud Function at {self.url} could not run the job: {problem}",
            backend=self.name,
        )

    def _parse(self, response: httpx.Response) -> JobResult:
        try:
            result = JobResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise CloudFunctionError(
                f"the Cloud Function answered with an invalid result: {exc}"
            ) from None
        result.backend = self.name
        return result
