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

from autorust.sandbox.base import Job, JobResult, Limits

READ_CHUNK = 65_536
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


class BoundedReader:
    """Keeps at most ``cap`` bytes of a stream and drains (discards) the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            if len(chunk) > room:
                self.truncated = True

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


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
    """Run ``argv`` in its own session; kill the whole process group at the timeout."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=preexec,
    )
    out, err = BoundedReader(limits.max_output_bytes), BoundedReader(limits.max_output_bytes)
    assert proc.stdin and proc.stdout and proc.stderr

    async def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(stdin.encode())
            await proc.stdin.drain()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.close()

    timed_out = False
    work = asyncio.gather(feed(), out.drain(proc.stdout), err.drain(proc.stderr), proc.wait())
    try:
        await asyncio.wait_for(work, timeout=limits.timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # also ends children left behind in the group
        if proc.returncode is None:
            await proc.wait()
    return JobResult(
        exit_code=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=round(time.perf_counter() - started, 4),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def write_files(workdir: Path, files: dict[str, str]) -> None:
    root = workdir.resolve()
    for name, content in files.items():
        target = (root / name).resolve()
        if root not in target.parents:
            raise ValueError(f"job file {name!r} would land outside the work dir")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def collect_files(
    workdir: Path, patterns: list[str], max_bytes: int
) -> tuple[dict[str, bytes], list[str]]:
    """Regular files matching ``patterns`` inside the work dir; never follows symlinks, which
    generated code could point at host files."""
    root = workdir.resolve()
    collected: dict[str, bytes] = {}
    warnings: list[str] = []
    total = 0
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            name = str(path.relative_to(root))
            if name in collected or path.is_symlink() or not path.is_file():
                continue
            if root not in path.resolve().parents:
                continue
            size = path.stat().st_size
            if total + size > max_bytes:
                warnings.append(f"file {name} not collected: over the {max_bytes} byte limit")
                continue
            collected[name] = path.read_bytes()
            total += size
    return collected, warnings


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
            collect_files, workdir, job.collect, job.max_collect_bytes
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)
    return result


def interpreter_argv(argv: list[str]) -> list[str]:
    """``python`` means the sandbox's interpreter."""
    return [python_executable() if argv[0] == "python" else argv[0], *argv[1:]]


def python_executable() -> str:
    """This interpreter (a venv's ``bin/python`` keeps its site-packages; never a pyenv shim)."""
    return sys.executable
