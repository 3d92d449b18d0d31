"""The weak mode: a plain child process with rlimits and a clean environment.

It does NOT isolate the file system or the network; it exists as an explicit, loudly
reported opt-out for machines without bubblewrap.
"""

from __future__ import annotations

import logging

from sandbox.base import Job, JobResult
from sandbox.process import (
    WorkDir,
    collect_files,
    python_executable,
    rlimit_setter,
    run_process,
    sandbox_env,
    write_files,
)

log = logging.getLogger(__name__)

UNSANDBOXED_WARNING = (
    "UNSANDBOXED: generated code ran as a plain subprocess (rlimits and a clean environment "
    "only; it could read host files and use the network)"
)


class SubprocessExecutor:
    name = "subprocess"

    def __init__(self, *, warning: str | None = UNSANDBOXED_WARNING) -> None:
        self.warning = warning

    async def execute(self, job: Job) -> JobResult:
        if self.warning:
            log.warning(self.warning)
        with WorkDir() as workdir:
            write_files(workdir, job.files)
            argv = [python_executable() if job.argv[0] == "python" else job.argv[0], *job.argv[1:]]
            result = await run_process(
                argv,
                cwd=str(workdir),
                stdin=job.stdin,
                limits=job.limits,
                env=sandbox_env(str(workdir)),
                preexec=rlimit_setter(job.limits),
            )
            result.files, collect_warnings = collect_files(
                workdir, job.collect, job.max_collect_bytes
            )
        result.backend = self.name
        result.warnings = [*([self.warning] if self.warning else []), *collect_warnings]
        return result
