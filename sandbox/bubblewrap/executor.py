"""The default backend: generated code runs under bubblewrap.

Isolation: new pid/net/ipc/uts/cgroup namespaces (loopback of the host unreachable, every
process gone when the sandbox's init dies), an empty environment, a root file system with only
/usr, the Python prefixes (read-only) and a per-job work dir (read-write), tmpfs /tmp.
When the caller is root, the code runs as a dedicated unprivileged uid (RLIMIT_NPROC is not
enforced for root, so a fork bomb would otherwise be unbounded); each concurrent job gets its
own uid so their process caps do not add up.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from functools import cache
from pathlib import Path

from autorust.sandbox.base import Job, JobResult, SandboxUnavailableError
from autorust.sandbox.process import interpreter_argv, rlimit_setter, run_job, sandbox_env

JOB_DIR = "/job"
SANDBOX_UIDS = range(61000, 61500)
INSTALL_HINT = (
    "bubblewrap is required to run generated code safely: install it with "
    "`apt-get install bubblewrap` (or `bash scripts/setup.sh`), or explicitly opt out with "
    "--unsafe-subprocess (AUTORUST_EXECUTOR__KIND=subprocess "
    "AUTORUST_EXECUTOR__ALLOW_UNSANDBOXED=true)"
)


class _UidPool:
    def __init__(self) -> None:
        self._free = list(SANDBOX_UIDS)
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            if not self._free:
                raise SandboxUnavailableError("too many concurrent sandboxed jobs (no free uid)")
            return self._free.pop()

    def give(self, uid: int) -> None:
        with self._lock:
            self._free.append(uid)


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if str(p) != "/"]


def _python_roots() -> list[Path]:
    """Folders the interpreter and its packages live in (venv and base install)."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return sorted(roots)


def bwrap_argv(
    bwrap: str,
    workdir: Path,
    uid: int | None,
    python_argv: list[str],
    *,
    python_roots: list[Path],
    setpriv: str,
) -> list[str]:
    argv = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/sbin", "/sbin",
        "--ro-bind-try", "/etc/fonts", "/etc/fonts",
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/tmp",
    ]  # fmt: skip
    if uid is None:
        argv.insert(1, "--unshare-user")
    made: set[Path] = set()
    for root in python_roots:
        for parent in _ancestors(root):
            if parent not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += ["--ro-bind", str(root), str(root)]
    argv += ["--bind", str(workdir), JOB_DIR, "--chdir", JOB_DIR]
    for key, value in sandbox_env(JOB_DIR).items():
        argv += ["--setenv", key, value]
    argv.append("--")
    if uid is not None:
        argv += [
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]
    return argv + python_argv


@cache
def find_bwrap(path: str | None = None) -> str:
    """The bwrap binary, checked once to actually work on this machine."""
    import subprocess

    binary = path or shutil.which("bwrap")
    if not binary or not Path(binary).is_file():
        raise SandboxUnavailableError(f"bwrap not found. {INSTALL_HINT}")
    probe = subprocess.run(
        [binary, "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/usr", "/usr",
         "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink",
         "usr/bin", "/bin", "--", "/usr/bin/true"],
        capture_output=True,
        text=True,
        timeout=10,
    )  # fmt: skip
    if probe.returncode != 0:
        raise SandboxUnavailableError(
            f"bwrap is installed but cannot create a sandbox here ({probe.stderr.strip()[:200]}). "
            + INSTALL_HINT
        )
    return binary


class BubblewrapExecutor:
    name = "local-bwrap"

    def __init__(self, bwrap_path: str | None = None) -> None:
        self.bwrap = find_bwrap(bwrap_path)
        # resolved once: path look-ups would otherwise block the event loop on every job
        self.python_roots = _python_roots()
        self.setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        self._uids = _UidPool()

    async def execute(self, job: Job) -> JobResult:
        as_root = os.geteuid() == 0
        uid = self._uids.take() if as_root else None
        try:
            result = await run_job(
                job,
                argv_for=lambda workdir: bwrap_argv(
                    self.bwrap,
                    workdir,
                    uid,
                    interpreter_argv(job.argv),
                    python_roots=self.python_roots,
                    setpriv=self.setpriv,
                ),
                env_for=lambda workdir: {},  # bwrap --clearenv/--setenv build the child's env
                preexec=rlimit_setter(job.limits),
                owner_uid=uid,
            )
        finally:
            if uid is not None:
                self._uids.give(uid)
        result.backend = self.name
        return result
