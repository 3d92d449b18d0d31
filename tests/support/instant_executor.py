"""A stand-in for the sandbox in benchmarks: every test passes, after an optional sleep.

It speaks the real harness protocol (plan on stdin, one nonce-framed report on stdout), so the
interpreter node and the checker treat its results exactly like the sandbox's.
"""

from __future__ import annotations

import asyncio
import json

import autorust.nodes.support.execution as execution
from autorust.sandbox import harness
from autorust.sandbox.base import Job, JobResult


class InstantExecutor:
    name = "bench-instant"

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    async def execute(self, job: Job) -> JobResult:
        if self.seconds:
            await asyncio.sleep(self.seconds)
        plan = json.loads(job.stdin)
        tests = [
            {"name": t["name"], "passed": True, "source": t.get("source", "spec"),
             "call": t.get("call"), "stdin": t.get("stdin"), "expected": t.get("expected")}
            for t in plan["tests"]
        ]  # fmt: skip
        report = {"interface": plan["interface"], "tests": tests, "program": {"exit_code": 0}}
        frame = f"{harness.FRAME_START} {plan['nonce']} {json.dumps(report)}{harness.FRAME_END}\n"
        return JobResult(exit_code=0, stdout=frame, backend=self.name)

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def install(executor: InstantExecutor) -> None:
    """Every job of this process goes to ``executor`` instead of a sandbox."""
    execution.make_executor = lambda settings: executor  # type: ignore[assignment]
    execution.cached_executor = lambda settings: executor  # type: ignore[assignment]
