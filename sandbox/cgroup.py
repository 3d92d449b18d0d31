"""A memory and pids cgroup per sandbox, where this machine lets us make one.

Only a memory cgroup counts everything the kernel holds for a job: memfd and SysV shm pages,
tmpfs pages, and kernel memory such as the inodes and dentries of a file flood. RLIMIT_AS and a
tmpfs ``size`` see none of these. The cgroup is made under autorust's own cgroup (never above
it: a job must not escape a limit its host runs under), one child per sandbox, removed with
the sandbox. Works with cgroup v1 (a ``memory`` and a ``pids`` hierarchy, as on this project's
machines) and v2 (a delegated subtree with both controllers). Without root or without writable
controllers there is no cgroup: ``available()`` says why, and the sandbox closes the channels
one by one instead (seccomp, polled file count; see docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)
MB = 1024 * 1024
CGROUP_FS = Path("/sys/fs/cgroup")
PREFIX = "autorust-"
# the supervisor (a Python interpreter) and bwrap, on top of what the job may use
OVERHEAD_MB = 48
# the supervisor, bwrap and its pid-namespace init, on top of the job's own process limit
PIDS_OVERHEAD = 8
_counter = itertools.count()
_lock = threading.Lock()


def memory_limit_bytes(memory_mb: int, disk_mb: int) -> int:
    """What one sandbox may hold in total: the job's memory, its files, the supervisor."""
    return (memory_mb + disk_mb + OVERHEAD_MB) * MB


@dataclass(frozen=True)
class Hierarchy:
    """Where this process's sandboxes get their cgroups: one dir per controller (v1), or the
    same dir for both (v2)."""

    version: int
    memory: Path
    pids: Path


@dataclass
class JobCgroup:
    version: int
    memory: Path
    pids: Path

    @property
    def dirs(self) -> list[Path]:
        return list(dict.fromkeys([self.memory, self.pids]))

    def procs_files(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.dirs]

    def set_limits(self, memory_bytes: int, pids: int) -> None:
        if self.version == 1:
            _write(self.memory / "memory.limit_in_bytes", str(memory_bytes))
        else:
            _write(self.memory / "memory.max", str(memory_bytes))
            _write(self.memory / "memory.swap.max", "0", optional=True)
        _write(self.pids / "pids.max", str(pids))

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return _field(self.memory / name, "oom_kill")

    def pids_refused(self) -> int:
        return _field(self.pids / "pids.events", "max")

    def peak_bytes(self) -> int:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        with contextlib.suppress(OSError, ValueError):
            return int((self.memory / name).read_text())
        return 0

    def remove(self, timeout_s: float = 5.0) -> bool:
        """Kill what is left in it and remove it (called once the sandbox is discarded)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = self._members()
            for pid in left:  # members of our own child cgroup: no stranger's pid
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if not left:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        removed = True
        for folder in self.dirs:
            removed &= _rmdir(folder, deadline)
        return removed

    def _members(self) -> list[int]:
        pids: set[int] = set()
        for folder in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
        return sorted(pids)


def _write(path: Path, value: str, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if not optional:
            raise


def _field(path: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _rmdir(folder: Path, deadline: float) -> bool:
    while True:
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:  # EBUSY while the last member is being torn down
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)


def _own_paths() -> dict[str, str]:
    """controller -> this process's cgroup path ("" key: the v2 unified path)."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


def _v1_dir(controller: str, paths: dict[str, str]) -> Path | None:
    mount = CGROUP_FS / controller
    if controller not in paths or not (mount / "cgroup.procs").exists():
        return None
    return mount / paths[controller].lstrip("/")


def _v2_dir(paths: dict[str, str]) -> Path | None:
    if "" not in paths or not (CGROUP_FS / "cgroup.controllers").exists():
        return None
    own = CGROUP_FS / paths[""].lstrip("/")
    # our children get what our subtree_control enables; we cannot enable it ourselves while
    # we hold processes (v2's no-internal-processes rule): the delegation must provide it
    try:
        enabled = set((own / "cgroup.subtree_control").read_text().split())
    except OSError:
        return None
    return own if {"memory", "pids"} <= enabled else None


def _sweep(parent: Path) -> None:
    """Remove the empty cgroups of autorust processes that are gone (killed with -9)."""
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            if not entry.name.startswith(PREFIX) or not entry.is_dir():
                continue
            owner = entry.name.removeprefix(PREFIX)
            if owner.isdigit() and Path(f"/proc/{owner}").exists():
                continue
            for child in [c for c in entry.iterdir() if c.is_dir()]:
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                entry.rmdir()


def _make_base(parent: Path) -> Path:
    _sweep(parent)
    base = parent / f"{PREFIX}{os.getpid()}"
    base.mkdir(exist_ok=True)
    return base


@cache
def _hierarchy() -> tuple[Hierarchy | None, str]:
    if os.geteuid() != 0:
        return None, "not root"
    paths = _own_paths()
    try:
        v2 = _v2_dir(paths)
        if v2 is not None:
            base = _make_base(v2)
            # a v2 cgroup with processes cannot hand controllers to children; a fresh base
            # holds none, so enabling them for its children is allowed
            _write(base / "cgroup.subtree_control", "+memory +pids")
            hierarchy = Hierarchy(2, base, base)
        else:
            memory, pids = _v1_dir("memory", paths), _v1_dir("pids", paths)
            if memory is None or pids is None:
                return None, "no memory and pids cgroup controllers mounted"
            hierarchy = Hierarchy(1, _make_base(memory), _make_base(pids))
        probe = _make(hierarchy)
        try:
            probe.set_limits(64 * MB, 16)
        finally:
            probe.remove(1.0)
    except OSError as exc:
        return None, f"cannot make a child cgroup ({exc})"
    return hierarchy, ""


def available() -> str | None:
    """None when sandboxes get a cgroup each; else why not."""
    hierarchy, reason = _hierarchy()
    return None if hierarchy is not None else reason


def _make(hierarchy: Hierarchy) -> JobCgroup:
    with _lock:
        name = f"s{next(_counter)}"
    memory, pids = hierarchy.memory / name, hierarchy.pids / name
    memory.mkdir()
    if pids != memory:
        try:
            pids.mkdir()
        except OSError:
            memory.rmdir()
            raise
    return JobCgroup(hierarchy.version, memory, pids)


def create(memory_mb: int, disk_mb: int, processes: int) -> JobCgroup | None:
    """A fresh cgroup with these limits, or None when this machine gives us none."""
    hierarchy, _ = _hierarchy()
    if hierarchy is None:
        return None
    group = _make(hierarchy)
    try:
        group.set_limits(memory_limit_bytes(memory_mb, disk_mb), processes + PIDS_OVERHEAD)
    except OSError:
        group.remove(1.0)
        raise
    return group


def remove_base() -> None:
    """At exit: this process's base cgroups (empty by then)."""
    if not _hierarchy.cache_info().currsize:
        return  # never made: nothing to remove (and nothing to make now)
    hierarchy, _ = _hierarchy()
    if hierarchy is not None:
        for folder in dict.fromkeys([hierarchy.memory, hierarchy.pids]):
            with contextlib.suppress(OSError):
                folder.rmdir()


# `sh` puts itself into the cgroups, then execs the sandbox: every process of the sandbox is
# born inside them (writing a pid afterwards would race bwrap's own forks)
ENTER_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'


def enter_prefix(group: JobCgroup) -> list[str]:
    shell = shutil.which("sh") or "/bin/sh"
    return [shell, "-c", ENTER_SCRIPT, "sh", *group.procs_files(), "--"]
