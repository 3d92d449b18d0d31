"""autorust code-execution Cloud Function (HTTP, functions-framework).

POST a ``sandbox.base.Job`` as JSON; get a ``sandbox.base.JobResult`` back. The same limits and
bounded output reading as the local backend apply (``sandbox/process.py``). There is no
bubblewrap inside Cloud Functions: the function instance (gVisor-sandboxed, no credentials
mounted into the child's environment, egress controllable with VPC settings) is the isolation
boundary, and every request runs in a fresh work dir with rlimits and an empty environment.

Authentication: deploy with ``--no-allow-unauthenticated``; Google's front end then verifies the
caller's ID token before a request reaches this code. When the function runs somewhere without
that front end, set ``AUTORUST_CF_TOKEN`` to require a shared bearer token.

Run locally:  functions-framework --target execute --source cloud_function/main.py --port 8080
Deploy:       see docs/sandbox.md (``scripts/package_cloud_function.sh`` stages the source).
"""

from __future__ import annotations

import asyncio
import hmac
import os

import flask
import functions_framework
from pydantic import ValidationError

from autorust.sandbox.base import Job, Limits
from autorust.sandbox.plain_subprocess.executor import SubprocessExecutor

MAX_REQUEST_BYTES = int(os.environ.get("AUTORUST_CF_MAX_REQUEST_BYTES", 4_000_000))
MAX_LIMITS = Limits(timeout_s=120, memory_mb=2048, cpu_s=120, processes=256)

_executor = SubprocessExecutor(warning=None)


def _error(status: int, message: str) -> flask.Response:
    return flask.make_response(flask.jsonify({"error": message}), status)


def _authorised(request: flask.Request) -> bool:
    expected = os.environ.get("AUTORUST_CF_TOKEN")
    if not expected:
        return True
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), expected.encode())


def _clamp(limits: Limits) -> Limits:
    capped = {
        name: min(getattr(limits, name), getattr(MAX_LIMITS, name))
        for name in ("timeout_s", "memory_mb", "cpu_s", "processes")
    }
    return limits.model_copy(update=capped)


@functions_framework.http
def execute(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        return _error(405, "POST a Job as JSON")
    if not _authorised(request):
        return _error(401, "missing or wrong bearer token")
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        return _error(413, f"request body over {MAX_REQUEST_BYTES} bytes")
    body = request.get_data(cache=False)
    if len(body) > MAX_REQUEST_BYTES:
        return _error(413, f"request body over {MAX_REQUEST_BYTES} bytes")
    try:
        job = Job.model_validate_json(body)
    except ValidationError as exc:
        return _error(400, f"invalid job: {exc.errors(include_url=False, include_input=False)}")
    job = job.model_copy(update={"limits": _clamp(job.limits)})
    result = asyncio.run(_executor.execute(job))
    result.backend = "cloud_function"
    response = flask.make_response(result.model_dump_json(), 200)
    response.headers["Content-Type"] = "application/json"
    return response
