"""autorust code-execution Cloud Function (HTTP, functions-framework).

POST a ``sandbox.base.Job`` as JSON; get a ``sandbox.base.JobResult`` back (HTTP 200 for every
job outcome, whatever the job did; ``sandbox_error`` when this function could not run it).

Containment, probed once per instance, strongest first (``AUTORUST_CF_ISOLATION`` forces one):
- ``bwrap``: the same sandbox as the local backend (namespaces, no network, private file
  system, size-limited tmpfs, unprivileged uid, warm pool of one-job sandboxes);
- ``uid`` (root without usable namespaces): an unprivileged uid per job, no_new_privs, private
  work and tmp dirs, a total disk cap, every process of the uid killed after the job
  (``sandbox/unprivileged_uid``); the network is then only closed by Google's egress settings;
- ``none``: rlimits and an empty environment only.
Outside Google's front end (no ``K_SERVICE``) anything weaker than ``bwrap`` is refused unless
``AUTORUST_CF_ALLOW_WEAK_ISOLATION=1`` (logged loudly); behind it, ``uid`` is the floor.

Authentication: deploy with ``--no-allow-unauthenticated``; Google's front end then verifies the
caller's ID token before a request reaches this code. Where the function runs without that
front end, set ``AUTORUST_CF_TOKEN`` to require a shared bearer token.

Run locally:  functions-framework --target execute --source cloud_function/main.py --port 8080
Deploy:       see docs/sandbox.md (``scripts/package_cloud_function.sh`` stages the source).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
from dataclasses import dataclass

import flask
import functions_framework
from pydantic import ValidationError

from autorust.sandbox.base import Executor, Job, JobResult, Limits, SandboxUnavailableError

log = logging.getLogger("autorust.cloud_function")
MAX_REQUEST_BYTES = int(os.environ.get("AUTORUST_CF_MAX_REQUEST_BYTES", 4_000_000))
MAX_COLLECT_FILES = 64
MAX_COLLECT_BYTES = 32_000_000
MAX_LIMITS = Limits(timeout_s=120, memory_mb=2048, cpu_s=120, processes=256, disk_mb=1024)
ISOLATIONS = ("bwrap", "uid", "none")
OPT_OUT = "AUTORUST_CF_ALLOW_WEAK_ISOLATION"


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
        for name in ("timeout_s", "memory_mb", "cpu_s", "processes", "disk_mb")
    }
    return limits.model_copy(update=capped)


@dataclass
class Runtime:
    """The executor this instance uses, on an event loop of its own that lives as long as the
    process (so its warm sandbox outlives any one request)."""

    isolation: str
    executor: Executor | None
    refusal: str | None
    loop: asyncio.AbstractEventLoop

    def run(self, job: Job) -> JobResult:
        if self.executor is None:
            return JobResult(sandbox_error=self.refusal, backend="cloud_function")
        future = asyncio.run_coroutine_threadsafe(self.executor.execute(job), self.loop)
        return future.result(timeout=job.limits.timeout_s + 60)


def _behind_google() -> bool:
    return bool(os.environ.get("K_SERVICE"))


def _weak_allowed() -> bool:
    return os.environ.get(OPT_OUT, "").lower() in ("1", "true", "yes")


async def _try(isolation: str) -> Executor:
    executor: Executor
    if isolation == "bwrap":
        from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

        executor = BubblewrapExecutor(warm_pool_size=2)  # back-to-back requests find one ready
    elif isolation == "uid":
        from autorust.sandbox.unprivileged_uid.executor import UidExecutor

        executor = UidExecutor(warm_pool_size=1)
    else:
        from autorust.sandbox.plain_subprocess.executor import SubprocessExecutor

        executor = SubprocessExecutor(warning="UNSANDBOXED: rlimits and an empty environment only")
    await executor.check()
    return executor


async def _choose() -> tuple[str, Executor | None, str | None]:
    forced = os.environ.get("AUTORUST_CF_ISOLATION", "auto")
    candidates = [forced] if forced in ISOLATIONS else list(ISOLATIONS)
    problems = []
    for isolation in candidates:
        if isolation != "bwrap":
            floor_ok = _behind_google() and isolation == "uid"
            if not (floor_ok or _weak_allowed()):
                problems.append(
                    f"{isolation}: refused (weaker than bubblewrap; set {OPT_OUT}=1 to allow)"
                )
                continue
        try:
            executor = await _try(isolation)
        except SandboxUnavailableError as exc:
            problems.append(f"{isolation}: {exc}")
            continue
        if isolation != "bwrap":
            log.warning(
                "WEAK ISOLATION: running generated code with %r containment (%s)",
                isolation,
                "; ".join(problems) or "forced",
            )
        return isolation, executor, None
    refusal = "this function refuses to run code: " + " | ".join(problems)
    log.error(refusal)
    return "refused", None, refusal


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """Probed on first use (not at import: functions-framework may fork after importing)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None or _runtime.loop.is_closed():
            loop = asyncio.new_event_loop()
            # bwrap --die-with-parent ties each sandbox to the thread that started it: this one
            threading.Thread(target=loop.run_forever, name="autorust-sandbox", daemon=True).start()
            isolation, executor, refusal = asyncio.run_coroutine_threadsafe(
                _choose(), loop
            ).result()
            log.info("autorust function: isolation %s", isolation)
            _runtime = Runtime(isolation, executor, refusal, loop)
        return _runtime


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
    job = job.model_copy(
        update={
            "limits": _clamp(job.limits),
            # what comes back is base64 in one response: bounded whatever the caller asked
            "max_collect_files": min(job.max_collect_files, MAX_COLLECT_FILES),
            "max_collect_bytes": min(job.max_collect_bytes, MAX_COLLECT_BYTES),
        }
    )
    isolation = "unknown"
    try:
        current = runtime()
        isolation = current.isolation
        result = current.run(job)
    except Exception as exc:  # whatever broke here, the job's code did not: say so, don't 500
        log.exception("job failed inside the function")
        result = JobResult(sandbox_error=f"the function failed to run the job: {exc!r}"[:500])
    result.backend = "cloud_function"
    response = flask.make_response(result.model_dump_json(), 200)
    response.headers["Content-Type"] = "application/json"
    response.headers["X-Autorust-Isolation"] = isolation
    return response
