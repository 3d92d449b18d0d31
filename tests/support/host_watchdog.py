"""A host-side watchdog for containment tests: what a job made the *host* hold, sampled from
outside the sandbox while the job runs (the job's own report proves nothing).

``with HostWatchdog(watch=[dir, ...]) as dog: ...`` samples /proc/meminfo (MemAvailable, Shmem,
Slab, SUnreclaim), the number of processes and SysV IPC objects every few milliseconds, and
counts the files under ``watch`` before and after. ``dog.report`` then holds the worst values
seen, relative to the start. Other processes on the machine move these numbers too, so tests
assert with margins far below what an escape produces (gigabytes, not megabytes).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
MEMINFO_KEYS = ("MemAvailable", "Shmem", "Slab", "SUnreclaim")


def meminfo() -> dict[str, int]:
    """The watched /proc/meminfo fields, in bytes."""
    values: dict[str, int] = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in MEMINFO_KEYS:
            values[name] = int(rest.split()[0]) * 1024
    return values


def process_count() -> int:
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit())


def ipc_objects() -> int:
    """SysV shared memory segments, message queues and semaphore sets in the host namespace."""
    total = 0
    for kind in ("shm", "msg", "sem"):
        with contextlib.suppress(OSError):
            total += len(Path(f"/proc/sysvipc/{kind}").read_text().splitlines()) - 1
    return total


def file_count(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        for _, dirs, files in os.walk(path):
            total += len(dirs) + len(files)
    return total


@dataclass
class WatchReport:
    mem_available_drop_mb: float = 0.0
    shmem_rise_mb: float = 0.0
    slab_rise_mb: float = 0.0
    sunreclaim_rise_mb: float = 0.0
    processes_rise: int = 0
    ipc_objects_after: int = 0  # more than before, once the job is over
    shmem_after_mb: float = 0.0  # Shmem still held once the job is over, over the start
    files_created: int = 0
    samples: int = 0

    def summary(self) -> str:
        return (
            f"MemAvailable -{self.mem_available_drop_mb:.0f} MB, Shmem +{self.shmem_rise_mb:.0f} "
            f"MB (after: +{self.shmem_after_mb:.0f}), Slab +{self.slab_rise_mb:.0f} MB "
            f"(unreclaimable +{self.sunreclaim_rise_mb:.0f}), processes +{self.processes_rise}, "
            f"IPC objects left +{self.ipc_objects_after}, files +{self.files_created} "
            f"({self.samples} samples)"
        )


class HostWatchdog:
    def __init__(
        self, watch: list[Path] | None = None, interval_s: float = 0.005, settle_s: float = 3.0
    ) -> None:
        self.watch = [Path(p) for p in watch or []]
        self.interval_s = interval_s
        self.settle_s = settle_s
        self.report = WatchReport()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> HostWatchdog:
        self._start_mem = meminfo()
        self._start_procs = process_count()
        self._start_ipc = ipc_objects()
        self._start_files = file_count(self.watch)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        # a sandbox is discarded in the background and the kernel frees a dead IPC namespace
        # asynchronously: "held after the job" means still held a few seconds later
        deadline = time.monotonic() + self.settle_s
        while True:
            end = meminfo()
            settled = end["Shmem"] - self._start_mem["Shmem"] < 16 * MB
            if (settled and ipc_objects() <= self._start_ipc) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        report = self.report
        report.ipc_objects_after = ipc_objects() - self._start_ipc
        report.shmem_after_mb = max(0, end["Shmem"] - self._start_mem["Shmem"]) / MB
        report.files_created = file_count(self.watch) - self._start_files

    def _sample(self) -> None:
        start, report = self._start_mem, self.report
        while not self._stop.is_set():
            now = meminfo()
            report.mem_available_drop_mb = max(
                report.mem_available_drop_mb, (start["MemAvailable"] - now["MemAvailable"]) / MB
            )
            report.shmem_rise_mb = max(report.shmem_rise_mb, (now["Shmem"] - start["Shmem"]) / MB)
            report.slab_rise_mb = max(report.slab_rise_mb, (now["Slab"] - start["Slab"]) / MB)
            report.sunreclaim_rise_mb = max(
                report.sunreclaim_rise_mb, (now["SUnreclaim"] - start["SUnreclaim"]) / MB
            )
            report.processes_rise = max(report.processes_rise, process_count() - self._start_procs)
            report.samples += 1
            self._stop.wait(self.interval_s)
