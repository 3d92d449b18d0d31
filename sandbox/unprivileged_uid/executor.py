"""Weaker containment for hosts where bubblewrap cannot create namespaces (a Cloud Function
whose runtime forbids them): the supervisor runs on the host as root, and each job gets

- its own unprivileged uid, leased uniquely on this host (no signals to, traces of, or
  /proc/<pid>/environ reads of any other process; RLIMIT_NPROC applies);
- ``no_new_privs`` (no setuid binaries, no file capabilities), no supplementary groups;
- a private work dir and tmp dir (mode 0700, its uid), HOME and TMPDIR pointing there;
- a total disk cap, polled over its dirs and whatever its uid owns in /tmp, /var/tmp and
  /dev/shm (the job is killed when it is over), plus rlimits;
- every process of its uid killed when the job ends (kill(-1) as that uid), its files in
  the shared writable dirs and its SysV IPC objects removed;
- the bubblewrap sandbox's seccomp filter, with memfd, SysV IPC and POSIX message queues
  closed as well (this mode shares the host's IPC namespace); files it unlinks while holding
  them open count against its disk cap; a memory and pids cgroup where the machine has one;
- Landlock (``supervisor._landlock``): the job reads only the interpreter's prefixes and the
  system dirs (/usr, /lib, /etc, /proc, /sys, /dev) and writes only its own dirs, so
  world-readable host files (the task's image, other users' files) are out of reach.

NOT contained here (bubblewrap is): the network (loopback included). Behind Google's front
end, egress settings must block the network (docs/sandbox.md).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from autorust.sandbox import cgroup as cgroups
from autorust.sandbox.base import (
    Job,
    JobResult,
    Limits,
    SandboxUnavailableError,
    resolve_interpreter,
)
from autorust.sandbox.bubblewrap import seccomp
from autorust.sandbox.instance import Launch, SandboxInstance, SandboxStartError, start_sandbox
from autorust.sandbox.leases import JobDirs, Lease, UidLeases
from autorust.sandbox.pool import WarmPool, run_in_pool
from autorust.sandbox.supervisor import kill_uid, remove_ipc_objects, remove_owned_files

log = logging.getLogger(__name__)
WEAKER_WARNING = (
    "sandbox without namespaces (bubblewrap unavailable): the job ran as its own unprivileged "
    "uid with Landlock confining its files, but the network was reachable"
)


def _env(python: str, workdir: Path, tmpdir: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(tmpdir),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(tmpdir / "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


class UidExecutor:
    name = "unprivileged-uid"

    def __init__(self, *, warm_pool_size: int = 1, limits: Limits | None = None) -> None:
        if os.geteuid() != 0:
            raise SandboxUnavailableError(
                "the unprivileged-uid sandbox needs root (it gives each job its own uid)"
            )
        self.python = resolve_interpreter(sys.executable)
        self._uids = UidLeases()
        self._dirs = JobDirs()
        removed = self._dirs.sweep()  # leftovers of a predecessor killed with -9
        if removed:
            log.warning("removed %d job dirs left by a crashed process", len(removed))
        self.pool = WarmPool(self._spawn, warm_pool_size, (limits or Limits()).disk_mb)
        self._checked = False

    async def check(self) -> None:
        if self._checked:
            return
        try:
            instance = await start_sandbox(lambda: self._spawn(Limits().disk_mb))
        except SandboxStartError as exc:
            raise SandboxUnavailableError(str(exc)) from None
        try:
            result = await instance.run(
                Job(
                    files={"probe.py": "import os; print(os.getuid())"}, argv=["python", "probe.py"]
                )
            )
        finally:
            await instance.discard()
        if result.sandbox_error or result.exit_code != 0 or result.stdout.strip() in ("", "0"):
            raise SandboxUnavailableError(
                f"the unprivileged-uid sandbox cannot run {self.python}: "
                f"{result.sandbox_error or result.stderr.strip()[-300:]}"
            )
        self._checked = True
        await self.pool.warm()

    async def execute(self, job: Job) -> JobResult:
        result = await run_in_pool(self.pool, job, check=self.check, backend=self.name)
        result.warnings.insert(0, WEAKER_WARNING)
        return result

    async def aclose(self) -> None:
        await self.pool.aclose()

    def _spawn(self, disk_mb: int) -> SandboxInstance:
        try:
            lease = self._uids.take()
        except SandboxUnavailableError as exc:
            raise SandboxStartError(str(exc)) from None
        root, dir_lease = self._dirs.make()
        workdir, tmpdir = root / "job", root / "tmp"
        workdir.mkdir()
        tmpdir.mkdir()
        assert lease.value is not None
        uid = lease.value
        cleanup: list[Callable[[], None]] = [
            lambda: _release(lease),
            lambda: self._dirs.remove(root, dir_lease),
            lambda: remove_ipc_objects(uid),
            lambda: remove_owned_files(uid),
            lambda: kill_uid(uid),  # runs first: nothing of the job outlives its sandbox
        ]
        defaults = Limits()
        try:
            group = cgroups.create(defaults.memory_mb, disk_mb, defaults.processes)
        except OSError as exc:
            for release in reversed(cleanup):
                release()
            raise SandboxStartError(f"could not make the sandbox's cgroup ({exc})") from None
        # the host's IPC namespace is shared with every other process: memory channels closed
        program = seccomp.filter_program(close_memory_channels=True)
        launch = Launch(
            prefix=[],
            python=self.python,
            config={
                "mode": "bare",
                "uid": uid,
                "workdir": str(workdir),
                "tmpdir": str(tmpdir),
                "quota_paths": [],
                "seccomp": program.hex() if program else None,
            },
            disk_mb=disk_mb,
            env=_env(self.python, workdir, tmpdir),
            cwd=str(workdir),
            cleanup=cleanup,
            cgroup=group,
        )
        return SandboxInstance(launch)


def _release(lease: Lease) -> None:
    lease.release()
