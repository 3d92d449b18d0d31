"""The weak mode: a plain child process with rlimits and a clean environment.

It does NOT isolate the file system or the network; it exists as an explicit, loudly
reported opt-out for machines without bubblewrap.
"""

from __future__ import annotations

import logging

from autorust.sandbox.base import Job, JobResult, SandboxUnavailableError
from autorust.sandbox.process import interpreter_argv, rlimit_setter, run_job, sandbox_env

log = logging.getLogger(__name__)

UNSANDBOXED_WARNING = (
    "UNSANDBOXED: generated code ran as a plain subprocess (rlimits and a clean environment "
    "only; it could read host files and use the network)"
)


class SubprocessExecutor:
    name = "subprocess"

    def __init__(self, *, warning: str | None = UNSANDBOXED_WARNING) -> None:
        self.warning = warning

    async def check(self) -> None:
        result = await self.execute(
            Job(files={"probe.py": "print('ok')"}, argv=["python", "probe.py"])
        )
        if result.exit_code != 0 or result.stdout != "ok\n":
            raise SandboxUnavailableError(
                f"cannot run {interpreter_argv(['python'])[0]}: exit code {result.exit_code}, "
                f"{result.stderr.strip()[-300:]}"
            )

    async def aclose(self) -> None:
        return None

    async def execute(self, job: Job) -> JobResult:
        if self.warning:
            log.warning(self.warning)
        result = await run_job(
            job,
            argv_for=lambda workdir: interpreter_argv(job.argv),
            env_for=lambda workdir: sandbox_env(str(workdir)),
            preexec=rlimit_setter(job.limits),
        )
        result.backend = self.name
        result.warnings = [*([self.warning] if self.warning else []), *result.warnings]
        return result
