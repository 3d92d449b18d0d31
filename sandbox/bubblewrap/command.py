"""The bubblewrap command line of one sandbox, and finding a bwrap that works here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from functools import cache
from pathlib import Path

from autorust.sandbox.base import SandboxUnavailableError

JOB_DIR = "/job"
MPL_DIR = "/var/cache/matplotlib"
MB = 1024 * 1024
INSTALL_HINT = (
    "bubblewrap is required to run generated code safely: install it with "
    "`apt-get install bubblewrap` (or `bash scripts/setup.sh`), or explicitly opt out with "
    "--unsafe-subprocess (AUTORUST_EXECUTOR__KIND=subprocess "
    "AUTORUST_EXECUTOR__ALLOW_UNSANDBOXED=true)"
)
# the mounts the sandbox makes itself: an interpreter under one of them is bound on top
OWN_MOUNTS = {"/tmp", JOB_DIR, "/dev", "/dev/shm", "/proc", MPL_DIR}
# the supervisor keeps only what it needs to become the job's uid and to kill the job
SUPERVISOR_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL")


def python_roots() -> list[Path]:
    """Folders the interpreter and its packages live in (venv and base install), wherever
    they are: under /usr (already bound), /opt, a home dir or /tmp."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    executable = Path(sys.executable)
    roots.add(executable.parent.resolve().parent)
    roots.add(executable.resolve().parent.parent)
    kept = [root for root in sorted(roots) if not _under(root, Path("/usr"))]
    # a root inside another root needs no bind of its own
    return [root for root in kept if not any(r != root and _under(root, r) for r in kept)]


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def sandbox_env(python: str) -> dict[str, str]:
    """The only environment generated code sees: nothing is inherited from the parent."""
    return {
        # `python` in a child process is this interpreter, not whatever /usr/bin has
        "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": JOB_DIR,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": MPL_DIR,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        # One BLAS thread: per-thread arenas would otherwise eat the address-space limit.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def bwrap_prefix(
    bwrap: str,
    *,
    as_root: bool,
    python: str,
    roots: list[Path],
    disk_mb: int,
    fontlist: Path | None,
    seccomp_fd: int | None = None,
    proc_data: dict[str, int] | None = None,
) -> list[str]:
    """``bwrap ... --`` for one sandbox; the supervisor's command follows."""
    disk = str(disk_mb * MB)
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
        # the job's writable space: size-limited tmpfs, so a full disk is ENOSPC, not the host
        "--size", disk, "--perms", "1777", "--tmpfs", JOB_DIR,
        "--size", disk, "--perms", "1777", "--tmpfs", "/tmp",
        "--size", str(max(1, disk_mb // 16) * MB), "--perms", "1777", "--tmpfs", "/dev/shm",
        "--size", str(4 * MB), "--perms", "1777", "--tmpfs", MPL_DIR,
    ]  # fmt: skip
    if as_root:
        argv += ["--cap-drop", "ALL"]
        for cap in SUPERVISOR_CAPS:
            argv += ["--cap-add", cap]
    else:
        argv += ["--unshare-user", "--disable-userns"]
    made: set[str] = set()
    for root in roots:  # after the tmpfs mounts: an interpreter under /tmp stays visible
        for parent in reversed(root.parents):
            name = str(parent)
            if name == "/" or name in made or name in OWN_MOUNTS or _under(parent, Path("/usr")):
                continue
            argv += ["--perms", "0755", "--dir", name]
            made.add(name)
        argv += ["--ro-bind", str(root), str(root)]
    if fontlist is not None:  # built once; read-only so no job can poison the next one's
        argv += ["--ro-bind", str(fontlist), f"{MPL_DIR}/{fontlist.name}"]
    for target, fd in (proc_data or {}).items():
        argv += ["--perms", "0444", "--ro-bind-data", str(fd), target]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--chdir", JOB_DIR]
    for key, value in sandbox_env(python).items():
        argv += ["--setenv", key, value]
    return [*argv, "--"]


def proc_data_fds() -> dict[str, int]:
    """Readable fds whose contents bwrap puts over /proc files that identify the host: its
    kernel command line (empty) and boot id (a fresh random one per sandbox)."""
    fake = {"/proc/cmdline": "\n", "/proc/sys/kernel/random/boot_id": f"{uuid.uuid4()}\n"}
    fds: dict[str, int] = {}
    for target, text in fake.items():
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, text.encode())  # a few bytes: fits the pipe buffer
        finally:
            os.close(write_end)
        fds[target] = read_end
    return fds


@cache
def find_bwrap(path: str | None = None) -> str:
    """The bwrap binary, checked once to actually create a sandbox on this machine."""
    binary = path or shutil.which("bwrap")
    if not binary or not Path(binary).is_file():
        raise SandboxUnavailableError(f"bwrap not found. {INSTALL_HINT}")
    argv = [binary, "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/usr",
            "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--size", str(MB), "--tmpfs", "/tmp"]  # fmt: skip
    if os.geteuid() != 0:
        argv += ["--unshare-user", "--disable-userns"]
    try:
        probe = subprocess.run(
            [*argv, "--", "/usr/bin/true"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailableError(f"bwrap failed to run ({exc}). {INSTALL_HINT}") from None
    if probe.returncode != 0:
        raise SandboxUnavailableError(
            f"bwrap is installed but cannot create a sandbox here ({probe.stderr.strip()[:200]}). "
            + INSTALL_HINT
        )
    return binary
