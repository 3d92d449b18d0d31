"""The host side of one started sandbox: spawn it ahead of demand, run ONE job, discard it.

The sandbox runs ``supervisor.py`` (see there for the protocol). The host feeds the job's
stdin, reads stdout/stderr with bounded readers that never pause, and waits for the
supervisor's result frame with a backstop deadline; it never waits for a pipe to close, so no
job can hold the host past its timeout. Discarding kills the sandbox's whole process group
(bwrap's pid namespace goes with it) and releases the uid lease and dirs.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import autorust.sandbox.cgroup as cgroups
import autorust.sandbox.supervisor as supervisor
from autorust.sandbox.base import Job, JobResult
from autorust.sandbox.channel import BoundedSink, FrameSource, close_quietly, write_all
from autorust.sandbox.startup import supervisor_argv
from autorust.sandbox.supervisor import encode_frame

READY_TIMEOUT_S = 30.0
# after the job's own timeout: time for the supervisor to kill the job, collect and answer
BACKSTOP_GRACE_S = 10.0
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "Unable to allocate")
FORK_SIGNS = ("Resource temporarily unavailable", "can't start new thread")


class SandboxStartError(RuntimeError):
    """The sandbox could not be started (an infrastructure problem, never the job's)."""


@dataclass
class Launch:
    """How to start one sandbox: the command in front of the interpreter and what to release."""

    prefix: list[str]
    python: str
    config: dict[str, object]
    disk_mb: int
    env: dict[str, str] | None = None
    cwd: str | None = None
    # the job shares the supervisor's uid, so it can kill the supervisor (no root: userns)
    job_can_kill_supervisor: bool = False
    # fds the sandbox command reads at start (bwrap --seccomp); closed here once it started
    pass_fds: list[int] = field(default_factory=list)
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    # every process of the sandbox is born in it; its limits are set per job
    cgroup: cgroups.JobCgroup | None = None


_LIVE: weakref.WeakSet[SandboxInstance] = weakref.WeakSet()
# Every sandbox is started from this one thread, never from the event loop (starting blocks on
# files and pipes) nor from a short-lived worker: bwrap --die-with-parent ends a sandbox when
# the *thread* that started it ends, so this one lives as long as the process.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-start")


async def start_sandbox(start: Callable[[], SandboxInstance]) -> SandboxInstance:
    """Run ``start`` (which spawns one sandbox) on the sandbox-start thread."""
    future = _SPAWNER.submit(start)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:  # e.g. the loop ends: nobody will take what gets started
        future.add_done_callback(_discard_started)
        raise


def _discard_started(future: concurrent.futures.Future[SandboxInstance]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().discard_now()


@atexit.register
def _kill_all_at_exit() -> None:
    for instance in list(_LIVE):
        instance.discard_now()
    cgroups.remove_base()  # after the sandboxes' own cgroups are gone


class SandboxInstance:
    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.used = False
        self._discarded = False
        self._lock = threading.Lock()
        ctl_in_r, self.ctl_w = os.pipe()
        self.ctl_r, ctl_out_w = os.pipe()
        job_r, self.job_w = os.pipe()
        stdin_r, self.stdin_w = os.pipe()
        self.stdout_r, stdout_w = os.pipe()
        self.stderr_r, stderr_w = os.pipe()
        # every host-side fd is closed exactly once, through _close: a second close could hit
        # a reused fd number of another sandbox
        self._open = {
            self.ctl_w, self.job_w, self.ctl_r, self.stdin_w, self.stdout_r, self.stderr_r
        }  # fmt: skip
        config = {**launch.config, "ctl_in": ctl_in_r, "ctl_out": ctl_out_w, "job_in": job_r}
        argv = [*launch.prefix, *supervisor_argv(launch.python, config)]
        if launch.cgroup is not None:
            argv = [*cgroups.enter_prefix(launch.cgroup), *argv]
            launch.cleanup.insert(0, launch.cgroup.remove)  # runs last: after the uid's release
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=stdin_r,
                stdout=stdout_w,
                stderr=stderr_w,
                pass_fds=(ctl_in_r, ctl_out_w, job_r, *launch.pass_fds),
                env=launch.env if launch.env is not None else {},
                cwd=launch.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self._close(*self._open)
            self._run_cleanup()
            raise SandboxStartError(f"could not start {argv[0]}: {exc}") from None
        finally:
            close_quietly(ctl_in_r, ctl_out_w, job_r, stdin_r, stdout_w, stderr_w, *launch.pass_fds)
        for fd in self._open:
            os.set_blocking(fd, False)
        self.frames = FrameSource(self.ctl_r, max_frame=64 * 1024 * 1024)
        self._ready = False
        _LIVE.add(self)

    # -- start ------------------------------------------------------------------------------

    async def ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait for the supervisor's ready frame; SandboxStartError with the reason if none."""
        if self._ready:
            return
        try:
            frame = await self.frames.next(timeout)
        except TimeoutError:
            raise SandboxStartError(f"the sandbox did not start within {timeout:.0f} s") from None
        if frame == b'{"ready": true}':
            self._ready = True
            return
        detail = _error_text(frame) or await self._startup_stderr()
        raise SandboxStartError(f"the sandbox could not start: {detail or 'no message'}")

    async def _startup_stderr(self) -> str:
        sink = BoundedSink(self.stderr_r, 2000)
        deadline = time.monotonic() + 0.5
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        sink.drain_now()
        code = self.proc.poll()
        text = " ".join(sink.text().split())
        return f"{text} (exit status {code})" if code is not None else text

    # -- one job ----------------------------------------------------------------------------

    async def run(self, job: Job) -> JobResult:
        """Run ``job`` (only once per instance). The caller discards the instance after."""
        assert not self.used, "a sandbox runs exactly one job"
        self.used = True
        loop = asyncio.get_running_loop()
        cap = job.limits.max_output_bytes
        out, err = BoundedSink(self.stdout_r, cap), BoundedSink(self.stderr_r, cap)
        out.start(loop)
        err.start(loop)
        started = time.perf_counter()
        feeder: asyncio.Task[None] | None = None
        try:
            await self.ready()
            if self.launch.cgroup is not None:
                try:
                    self.launch.cgroup.set_limits(
                        cgroups.memory_limit_bytes(job.limits.memory_mb, job.limits.disk_mb),
                        job.limits.processes + cgroups.PIDS_OVERHEAD,
                    )
                except OSError as exc:
                    return self._sandbox_error(f"could not set the sandbox's cgroup limits ({exc})")
            limits = job.limits.model_dump()
            control = {
                "limits": limits,
                "collect": job.collect,
                "max_collect_bytes": job.max_collect_bytes,
                "max_collect_files": job.max_collect_files,
                "max_collect_file_bytes": job.max_collect_file_bytes,
            }
            work = {"files": job.files, "argv": job.argv, "limits": limits}
            try:
                await write_all(self.ctl_w, encode_frame(json.dumps(control).encode()))
                await write_all(self.job_w, encode_frame(json.dumps(work).encode()))
                self._close(self.job_w)
            except OSError as exc:
                return self._sandbox_error(f"the sandbox stopped before the job ({exc})")
            feeder = asyncio.ensure_future(self._feed(job.stdin.encode()))
            try:
                header = await self.frames.next(job.limits.timeout_s + BACKSTOP_GRACE_S)
            except TimeoutError:
                self._kill()  # fds stay open until discard: their numbers must not be reused
                return self._finish(
                    JobResult(
                        timed_out=True,
                        duration_s=round(time.perf_counter() - started, 4),
                        warnings=["the sandbox did not report back in time; it was killed"],
                        limits_hit=[f"timed out after {job.limits.timeout_s:.1f} s"],
                    ),
                    job,
                    out,
                    err,
                )
            if header is None:
                if self._out_of_memory():  # the kernel killed the supervisor for the job's memory
                    return self._finish(
                        JobResult(
                            duration_s=round(time.perf_counter() - started, 4),
                            warnings=["the sandbox ran out of memory; its files are lost"],
                        ),
                        job,
                        out,
                        err,
                    )
                if self.launch.job_can_kill_supervisor:
                    return self._finish(
                        JobResult(
                            duration_s=round(time.perf_counter() - started, 4),
                            warnings=["the job killed the sandbox's supervisor"],
                        ),
                        job,
                        out,
                        err,
                    )
                return self._sandbox_error("the sandbox's supervisor died during the job")
            data = json.loads(header)
            if "error" in data:
                return self._sandbox_error(f"the sandbox failed: {data['error']}")
            files: dict[str, bytes] = {}
            listed = data["files"]
            # a supervisor the job could reach (no root) is not trusted with the caps
            if (
                len(listed) > job.max_collect_files
                or sum(size for _, size in listed) > (job.max_collect_bytes)
                or not all(supervisor.safe_name(name) for name, _ in listed)
            ):
                return self._sandbox_error("the sandbox returned files over the collect limits")
            for name, size in listed:
                content = await self.frames.next(BACKSTOP_GRACE_S)
                if content is None or len(content) != size:
                    return self._sandbox_error("the sandbox stopped while returning files")
                files[name] = content
            result = JobResult(
                exit_code=data["exit_code"],
                duration_s=data["duration_s"],
                timed_out=data["timed_out"],
                files=files,
                warnings=data["warnings"],
                limits_hit=data["limits_hit"],
            )
            return self._finish(result, job, out, err)
        except SandboxStartError as exc:
            return self._sandbox_error(str(exc))
        finally:
            if feeder is not None:
                feeder.cancel()
            out.drain_now()
            err.drain_now()

    async def _feed(self, data: bytes) -> None:
        try:
            if data:
                await write_all(self.stdin_w, data)
        except OSError:
            pass  # the job closed its stdin: its choice
        finally:
            self._close(self.stdin_w)

    def _finish(self, result: JobResult, job: Job, out: BoundedSink, err: BoundedSink) -> JobResult:
        out.drain_now()  # every writer is dead: what is in the pipes is all there is
        err.drain_now()
        result.stdout, result.stderr = out.text(), err.text()
        result.truncated = out.truncated or err.truncated
        if result.truncated:
            result.limits_hit.append(f"output truncated at {job.limits.max_output_bytes} bytes")
        tail = result.stderr[-4000:]
        if result.exit_code and any(sign in tail for sign in MEMORY_SIGNS):
            result.limits_hit.append(f"memory limit ({job.limits.memory_mb} MB)")
        if any(sign in tail for sign in FORK_SIGNS):
            result.limits_hit.append(f"process limit ({job.limits.processes})")
        group = self.launch.cgroup
        memory_hit = f"memory limit ({job.limits.memory_mb} MB)"
        if group is not None and group.oom_kills() and memory_hit not in result.limits_hit:
            result.limits_hit.append(memory_hit)
        process_hit = f"process limit ({job.limits.processes})"
        if group is not None and group.pids_refused() and process_hit not in result.limits_hit:
            result.limits_hit.append(process_hit)
        size_hit = f"file size limit ({job.limits.file_size_mb} MB)"
        if "File too large" in tail and size_hit not in result.limits_hit:
            result.limits_hit.append(size_hit)
        return result

    def _out_of_memory(self) -> bool:
        return self.launch.cgroup is not None and self.launch.cgroup.oom_kills() > 0

    @staticmethod
    def _sandbox_error(message: str) -> JobResult:
        return JobResult(sandbox_error=message)

    # -- discard ----------------------------------------------------------------------------

    def discard_now(self) -> None:
        """Kill the sandbox and everything in it, release its uid and dirs (idempotent)."""
        with self._lock:
            if self._discarded:
                return
            self._discarded = True
        self._kill()
        self.frames.stop()  # the loop's reader goes before the fd number can be reused
        self._close(*self._open)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._run_cleanup()
        _LIVE.discard(self)

    async def discard(self) -> None:
        self.frames.stop()  # on the loop's own thread
        await asyncio.get_running_loop().run_in_executor(None, self.discard_now)

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _close(self, *fds: int) -> None:
        with self._lock:
            mine = [fd for fd in fds if fd in self._open]
            self._open.difference_update(mine)
        close_quietly(*mine)

    def _run_cleanup(self) -> None:
        while self.launch.cleanup:
            with contextlib.suppress(Exception):
                self.launch.cleanup.pop()()

    @property
    def alive(self) -> bool:
        return not self._discarded and self.proc.poll() is None


def _error_text(frame: bytes | None) -> str | None:
    if not frame:
        return None
    try:
        return str(json.loads(frame).get("error"))
    except (ValueError, AttributeError):
        return None
