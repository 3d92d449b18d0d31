"""The default backend: generated code runs under bubblewrap, from a warm pool.

Isolation per job (each sandbox runs exactly one job, then it is discarded): new pid, net, ipc,
uts and cgroup namespaces (no network, not even the host's loopback; every process gone with
the sandbox), an empty environment, a root file system with only /usr, /etc/fonts and the
Python installation read-only, size-limited tmpfs for the work dir (/job), /tmp and /dev/shm
(the disk quota). As root, the job runs as an unprivileged uid leased uniquely on this host
(RLIMIT_NPROC is not enforced for root, and two autorust processes must not share a uid);
without root, bubblewrap's user namespace maps the caller's uid and forbids nested ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable

import autorust.sandbox.bubblewrap.fontcache as fontcache
import autorust.sandbox.bubblewrap.seccomp as seccomp
import autorust.sandbox.cgroup as cgroups
from autorust.sandbox.base import (
    Job,
    JobResult,
    Limits,
    SandboxUnavailableError,
    resolve_interpreter,
)
from autorust.sandbox.bubblewrap.command import (
    JOB_DIR,
    bwrap_prefix,
    find_bwrap,
    proc_data_fds,
    python_roots,
)
from autorust.sandbox.instance import Launch, SandboxInstance, SandboxStartError, start_sandbox
from autorust.sandbox.leases import Lease, UidLeases
from autorust.sandbox.pool import WarmPool, run_in_pool

log = logging.getLogger(__name__)
# The job uid itself must be able to start the interpreter again (the test harness runs each
# test in a child process of sys.executable), not only the supervisor that is already running.
PROBE = Job(
    files={
        "probe.py": "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', "
        "'import sys; print(\"autorust-probe\", sys.executable)'], check=True)\n"
    },
    argv=["python", "probe.py"],
    limits=Limits(timeout_s=30),
)


def python_executable() -> str:
    """This interpreter (a venv's ``bin/python`` keeps its site-packages; never a pyenv shim),
    its folders resolved: a path through ``..`` or a symlinked folder works in the sandbox."""
    return resolve_interpreter(sys.executable)


class BubblewrapExecutor:
    name = "local-bwrap"

    def __init__(
        self,
        bwrap_path: str | None = None,
        *,
        warm_pool_size: int = 2,
        limits: Limits | None = None,
        python: str | None = None,
    ) -> None:
        self.bwrap = find_bwrap(bwrap_path)
        # another path to this same interpreter (its venv), e.g. one through `..`
        self.python = resolve_interpreter(python) if python else python_executable()
        self.roots = python_roots()  # resolved once: no path look-ups per job
        self.as_root = os.geteuid() == 0
        self._uids = UidLeases() if self.as_root else None
        self._fontlist = fontcache.cached_fontlist(self.python)
        default_disk = (limits or Limits()).disk_mb
        self.pool = WarmPool(self._spawn, warm_pool_size, default_disk)
        # one pool per set of preloaded modules (a figure job's numpy and matplotlib), made
        # when the first job asking for that set arrives
        self._preloaded: dict[tuple[str, ...], WarmPool] = {}
        self._checked: asyncio.Future[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def check(self) -> None:
        """Start probe: the real interpreter in the real sandbox; then build the font cache
        (once per host) and warm the pool. Raises SandboxUnavailableError with the reason."""
        loop = asyncio.get_running_loop()
        if self._checked is None or self._checked.get_loop() is not loop:
            self._checked = loop.create_future()
            try:
                await self._probe()
            except BaseException as exc:
                self._checked.set_exception(exc)
                self._checked.exception()  # retrieved: no "never retrieved" warning
                raise
            self._checked.set_result(None)
            await self.pool.warm()
        await asyncio.shield(self._checked)

    async def _probe(self) -> None:
        instance = await self._start_or_raise(PROBE.limits.disk_mb)
        try:
            result = await instance.run(PROBE)
        finally:
            await instance.discard()
        expected = f"autorust-probe {self.python}"
        if result.sandbox_error or result.exit_code != 0 or result.stdout.strip() != expected:
            detail = result.sandbox_error or (
                f"exit code {result.exit_code}: {result.stderr.strip()[-300:] or result.stdout}"
            )
            raise SandboxUnavailableError(
                f"the sandbox cannot run {self.python} ({detail}); the interpreter and its "
                "packages must be readable by an unprivileged user (check the permissions of "
                f"{', '.join(map(str, self.roots))})"
            )
        if await asyncio.to_thread(seccomp.filter_program) is None:
            log.warning("libseccomp not found: sandboxes run without their seccomp filter")
        no_cgroup = await asyncio.to_thread(cgroups.available)
        if no_cgroup:
            log.info("no memory cgroup per sandbox (%s): memfd and SysV IPC denied", no_cgroup)
        if self._fontlist is None and await asyncio.to_thread(
            fontcache.visible_matplotlib, self.roots
        ):
            await self._build_fontlist()

    async def _build_fontlist(self) -> None:
        instance = await self._start_or_raise(64)
        try:
            result = await instance.run(fontcache.build_job())
        finally:
            await instance.discard()
        if result.exit_code == 0 and result.files:
            try:
                self._fontlist = await asyncio.to_thread(fontcache.store, result.files)
            except (OSError, ValueError) as exc:
                log.warning("matplotlib font cache not stored: %s", exc)
        else:
            log.warning("matplotlib font cache not built: %s", result.stderr[-300:])

    async def execute(self, job: Job) -> JobResult:
        return await run_in_pool(self._pool_for(job), job, check=self.check, backend=self.name)

    def _pool_for(self, job: Job) -> WarmPool:
        key = tuple(job.preload)
        if not key:
            return self.pool
        pool = self._preloaded.get(key)
        if pool is None:
            pool = WarmPool(
                lambda disk_mb: self._spawn(disk_mb, key), self.pool.floor, self.pool.disk_mb
            )
            self._preloaded[key] = pool
        return pool

    async def aclose(self) -> None:
        await self.pool.aclose()
        for pool in self._preloaded.values():
            await pool.aclose()

    # -- one sandbox ------------------------------------------------------------------------

    async def _start_or_raise(self, disk_mb: int) -> SandboxInstance:
        try:
            return await start_sandbox(lambda: self._spawn(disk_mb))
        except SandboxStartError as exc:
            raise SandboxUnavailableError(str(exc)) from None

    def _spawn(self, disk_mb: int, preload: tuple[str, ...] = ()) -> SandboxInstance:
        cleanup: list[Callable[[], None]] = []
        uid = None
        if self._uids is not None:
            try:
                lease = self._uids.take()
            except SandboxUnavailableError as exc:
                raise SandboxStartError(str(exc)) from None
            uid = lease.value
            cleanup.append(lambda: _release_when_gone(lease))
        defaults = Limits()
        try:  # a job's own limits are set when it arrives
            group = cgroups.create(defaults.memory_mb, disk_mb, defaults.processes)
        except OSError as exc:
            for release in reversed(cleanup):
                release()
            raise SandboxStartError(f"could not make the sandbox's cgroup ({exc})") from None
        # without a cgroup nothing counts memfd and SysV IPC memory: close those channels
        program = seccomp.filter_program(close_memory_channels=group is None)
        seccomp_fd = seccomp.program_fd(program) if program else None
        proc_data = proc_data_fds()
        launch = Launch(
            prefix=bwrap_prefix(
                self.bwrap,
                as_root=self.as_root,
                python=self.python,
                roots=self.roots,
                disk_mb=disk_mb,
                fontlist=self._fontlist,
                seccomp_fd=seccomp_fd,
                proc_data=proc_data,
            ),
            pass_fds=[*proc_data.values(), *([seccomp_fd] if seccomp_fd is not None else [])],
            python=self.python,
            config={
                "mode": "bwrap",
                "uid": uid,
                "workdir": JOB_DIR,
                "tmpdir": "/tmp",
                "quota_paths": [JOB_DIR, "/tmp", "/dev/shm"],
                "preload": list(preload),
            },
            disk_mb=disk_mb,
            job_can_kill_supervisor=not self.as_root,
            cleanup=cleanup,
            cgroup=group,
        )
        return SandboxInstance(launch)


def _release_when_gone(lease: Lease) -> None:
    """Free a uid only once no process of it is left (the pid namespace dies asynchronously)."""
    assert lease.value is not None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _has_processes(lease.value):
        time.sleep(0.005)
    lease.release()


def _has_processes(uid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    return True
    return False
