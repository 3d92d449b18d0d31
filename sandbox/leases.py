"""Host-wide leases: sandbox uids and private job dirs, safe across autorust processes.

A lease is an ``flock`` on a lock file held for the lease's lifetime. The kernel drops the lock
when the holder dies, however it dies (``kill -9`` included), so a crashed process's uids are
free again at once and its dirs are recognisable as leftovers by the next start-up sweep.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import secrets
import shutil
import stat
import tempfile
import threading
from pathlib import Path

from autorust.sandbox.base import SandboxUnavailableError

# Unprivileged uids the sandboxes run as (root only). Below 65534 so that containers with a
# 65536-uid mapping can still use them.
SANDBOX_UIDS = range(62000, 63000)


def runtime_dir() -> Path:
    """A private per-host dir for leases and job dirs (root: /run/autorust)."""
    if os.geteuid() == 0:
        candidates = [Path("/run/autorust"), Path(tempfile.gettempdir()) / "autorust-0"]
    else:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        candidates = [Path(xdg) / "autorust"] if xdg else []
        candidates.append(Path(tempfile.gettempdir()) / f"autorust-{os.geteuid()}")
    for candidate in candidates:
        with contextlib.suppress(OSError):
            candidate.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = candidate.lstat()
            if (
                stat.S_ISDIR(info.st_mode)
                and info.st_uid == os.geteuid()
                and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            ):
                return candidate
    raise SandboxUnavailableError(
        f"no private runtime dir for sandbox leases (tried {', '.join(map(str, candidates))}): "
        "each must be a directory owned by this user and not writable by others"
    )


class Lease:
    def __init__(self, path: Path, fd: int, value: int | None = None) -> None:
        self.path = path
        self.value = value
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


class UidLeases:
    """Unique sandbox uids per host: two autorust processes never run jobs as the same uid."""

    def __init__(self, uids: range = SANDBOX_UIDS, directory: Path | None = None) -> None:
        self.uids = uids
        self.directory = directory or runtime_dir() / "uid-leases"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._mine: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> Lease:
        start = random.randrange(len(self.uids))  # spread concurrent processes apart
        with self._lock:
            for index in range(len(self.uids)):
                uid = self.uids[(start + index) % len(self.uids)]
                if uid in self._mine:
                    continue
                fd = _try_lock(self.directory / f"{uid}.lock")
                if fd is not None:
                    self._mine.add(uid)
                    return _UidLease(self, self.directory / f"{uid}.lock", fd, uid)
        raise SandboxUnavailableError(
            f"all {len(self.uids)} sandbox uids are in use on this host (too many concurrent jobs)"
        )

    def _forget(self, uid: int) -> None:
        with self._lock:
            self._mine.discard(uid)


class _UidLease(Lease):
    def __init__(self, owner: UidLeases, path: Path, fd: int, uid: int) -> None:
        super().__init__(path, fd, uid)
        self._owner = owner

    def release(self) -> None:
        if self.held:
            super().release()
            assert self.value is not None
            self._owner._forget(self.value)


class JobDirs:
    """Private dirs for jobs that run without a mount namespace (bare mode), each leased with
    a lock file so a start-up sweep removes the ones whose owner died."""

    def __init__(self, root: Path | None = None) -> None:
        runtime = runtime_dir()
        self.root = root or runtime / "jobs"
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        # a job's uid must reach its own dir (0700, its own) but list nothing on the way
        for folder in {runtime, self.root}:
            folder.chmod(0o711)

    def make(self) -> tuple[Path, Lease]:
        name = f"job-{secrets.token_hex(8)}"
        lock = self.root / f"{name}.lock"  # the lock exists before the dir: no sweep race
        fd = _try_lock(lock)
        assert fd is not None, "a fresh lock file cannot be held by anyone else"
        path = self.root / name
        path.mkdir(mode=0o711)
        path.chmod(0o711)  # traversable for the job's uid, its own subdirs are 0700
        return path, Lease(lock, fd)

    def remove(self, path: Path, lease: Lease) -> None:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            lease.path.unlink()
        lease.release()

    def sweep(self) -> list[Path]:
        """Remove the dirs of dead owners; returns what was removed."""
        removed = []
        for lock in self.root.glob("job-*.lock"):
            fd = _try_lock(lock)
            if fd is None:
                continue  # its owner is alive
            try:
                shutil.rmtree(lock.with_suffix(""), ignore_errors=True)
                lock.unlink()
                removed.append(lock.with_suffix(""))
            finally:
                os.close(fd)
        for path in self.root.glob("job-*"):  # a dir whose lock was never written
            if path.is_dir() and not path.with_suffix(".lock").exists():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed
