"""Run one command in a work dir with limits, reading its output without unbounded buffering.

Shared by every backend (the bubblewrap sandbox wraps the command; the Cloud Function and the
weak subprocess mode run it directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import autorust.sandbox.supervisor as supervisor
from autorust.sandbox.base import Job, JobResult, Limits, resolve_interpreter
from autorust.sandbox.channel import BoundedSink, close_quietly, write_all

MB = 1024 * 1024


def sandbox_env(workdir: str) -> dict[str, str]:
    """The only environment generated code sees: nothing is inherited from the parent."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        # One BLAS thread: per-thread arenas would otherwise eat the address-space limit.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def rlimit_setter(limits: Limits, *, cap_processes: bool = True) -> Callable[[], None]:
    """A preexec function applying the job's rlimits in the child before exec."""

    def apply() -> None:
        pairs = [
            (resource.RLIMIT_AS, limits.memory_mb * MB),
            (resource.RLIMIT_CPU, limits.cpu_s),
            (resource.RLIMIT_FSIZE, limits.file_size_mb * MB),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
        ]
        if cap_processes:
            pairs.append((resource.RLIMIT_NPROC, limits.processes))
        for which, value in pairs:
            resource.setrlimit(which, (value, value))

    return apply


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_process(
    argv: list[str],
    *,
    cwd: str,
    stdin: str,
    limits: Limits,
    env: dict[str, str],
    preexec: Callable[[], None] | None,
) -> JobResult:
    """Run ``argv`` in its own session; kill the whole process group at the timeout.

    The pipes are plain fds read by never-pausing bounded readers, and only the process's exit
    is awaited (not its pipes): whatever the job does with its output, it ends on time.
    """
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=stdin_r,
            stdout=stdout_w,
            stderr=stderr_w,
            start_new_session=True,
            preexec_fn=preexec,
        )
    except BaseException:
        close_quietly(stdin_w, stdout_r, stderr_r)
        raise
    finally:
        close_quietly(stdin_r, stdout_w, stderr_w)
    for fd in (stdin_w, stdout_r, stderr_r):
        os.set_blocking(fd, False)
    out, err = (
        BoundedSink(stdout_r, limits.max_output_bytes),
        BoundedSink(stderr_r, limits.max_output_bytes),
    )
    out.start(loop)
    err.start(loop)

    async def feed() -> None:
        try:
            if stdin:
                await write_all(stdin_w, stdin.encode())
        except OSError:
            pass
        finally:
            close_quietly(stdin_w)

    feeder = asyncio.ensure_future(feed())
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout=limits.timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # also ends children left behind in the group
        if proc.returncode is None:
            await proc.wait()
        feeder.cancel()
        with contextlib.suppress(BaseException):
            await feeder
        # what the group wrote is in the pipes; a writer that escaped the group cannot hold us
        await asyncio.sleep(0)
        out.drain_now()
        err.drain_now()
        close_quietly(stdout_r, stderr_r)
    result = JobResult(
        exit_code=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=round(time.perf_counter() - started, 4),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )
    if timed_out:
        result.limits_hit.append(f"timed out after {limits.timeout_s:.1f} s")
    if result.truncated:
        result.limits_hit.append(f"output truncated at {limits.max_output_bytes} bytes")
    return result


def write_files(workdir: Path, files: dict[str, str]) -> None:
    root = workdir.resolve()
    for name, content in files.items():
        target = (root / name).resolve()
        if root not in target.parents:
            raise ValueError(f"job file {name!r} would land outside the work dir")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def collect_files(
    workdir: Path,
    patterns: list[str],
    max_bytes: int,
    max_files: int = 16,
    max_file_bytes: int | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """Regular, singly linked files matching ``patterns`` inside the work dir, reached without
    following any symlink (generated code could point one, or a hard link, at host files);
    bounded in count and size, plain names only (``supervisor.collect``)."""
    found, warnings = supervisor.collect(
        str(workdir), patterns, max_bytes, max_files=max_files, max_file_bytes=max_file_bytes
    )
    return dict(found), warnings


def prepare_workdir(files: dict[str, str], owner_uid: int | None = None) -> Path:
    """A fresh private directory holding the job's files (owned by ``owner_uid`` if given)."""
    workdir = Path(tempfile.mkdtemp(prefix="autorust-job-"))
    write_files(workdir, files)
    if owner_uid is not None:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, owner_uid, owner_uid)
    return workdir


async def run_job(
    job: Job,
    *,
    argv_for: Callable[[Path], list[str]],
    env_for: Callable[[Path], dict[str, str]],
    preexec: Callable[[], None],
    owner_uid: int | None = None,
) -> JobResult:
    """Work dir in, command run, files collected, work dir removed; file work off the loop."""
    workdir = await asyncio.to_thread(prepare_workdir, job.files, owner_uid)
    try:
        result = await run_process(
            argv_for(workdir),
            cwd=str(workdir),
            stdin=job.stdin,
            limits=job.limits,
            env=env_for(workdir),
            preexec=preexec,
        )
        result.files, result.warnings = await asyncio.to_thread(
            collect_files, workdir, job.collect, job.max_collect_bytes,
            job.max_collect_files, job.max_collect_file_bytes,
        )  # fmt: skip
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)
    return result


def interpreter_argv(argv: list[str]) -> list[str]:
    """``python`` means the sandbox's interpreter."""
    return [python_executable() if argv[0] == "python" else argv[0], *argv[1:]]


def python_executable() -> str:
    """This interpreter (a venv's ``bin/python`` keeps its site-packages; never a pyenv shim)."""
    return resolve_interpreter(sys.executable)
