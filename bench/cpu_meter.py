"""CPU time of a bench and everything it starts (peers, sandboxes), from a cpuacct cgroup the
bench moves itself into: unlike wall time it does not depend on what else the machine runs.

Children started after the move inherit the cgroup (a sandbox joins memory and pids cgroups
of its own, never another cpuacct one). Where no cgroup v1 cpuacct is writable (cgroup v2
only, or no root) ``seconds()`` is None. The cgroup is removed when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuMeter:
    def __init__(self, name: str = "autorust-bench") -> None:
        self.usage_file: Path | None = None
        group = CPUACCT / f"{name}-{os.getpid()}"
        try:
            group.mkdir(exist_ok=True)
            (group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
            return
        self.usage_file = group / "cpuacct.usage"
        atexit.register(self._remove, group)

    def seconds(self) -> float | None:
        return int(self.usage_file.read_text()) / 1e9 if self.usage_file else None

    @staticmethod
    def _remove(group: Path) -> None:
        """Back to the root cgroup, then the (by now childless) group goes."""
        with contextlib.suppress(OSError):
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
            group.rmdir()
