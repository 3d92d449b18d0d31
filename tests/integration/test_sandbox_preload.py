"""Warm interpreters that pre-import what a task kind uses, and a pool that follows demand
(issue 26): still one job per sandbox."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from autorust.sandbox.base import Job
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

pytestmark = pytest.mark.bwrap

MARK = """import sys, os
pre = 'numpy' in sys.modules
import numpy
seen = getattr(numpy, '_autorust_mark', None)
numpy._autorust_mark = os.getpid()
open('/tmp/left-behind', 'w').write('x')
print(pre, seen, os.path.exists('/tmp/left-behind'))
"""


async def test_preloaded_modules_are_there_and_no_job_sees_another() -> None:
    executor = BubblewrapExecutor(warm_pool_size=1)
    try:
        await executor.check()
        results = []
        for _ in range(3):
            results.append(await executor.execute(Job(files={"main.py": MARK}, preload=["numpy"])))
            await asyncio.sleep(0.3)
        plain = await executor.execute(Job(files={"main.py": MARK}))
    finally:
        await executor.aclose()
    for result in results:
        assert result.sandbox_error is None and result.exit_code == 0, result
        # loaded before the job; the mark of an earlier job and its /tmp file are gone
        assert result.stdout.split() == ["True", "None", "True"], result.stdout
    assert plain.stdout.split()[1] == "None"


def test_preload_takes_module_names_only() -> None:
    with pytest.raises(ValidationError):
        Job(preload=["os; import socket"])
    with pytest.raises(ValidationError):
        Job(preload=["numpy"] * 9)
    assert Job(preload=["matplotlib.pyplot"]).preload == ["matplotlib.pyplot"]


async def test_the_pool_grows_with_concurrent_jobs_and_starts_replacements_early() -> None:
    executor = BubblewrapExecutor(warm_pool_size=1)
    try:
        await executor.check()
        assert executor.pool.size == 1
        jobs = [Job(files={"main.py": "import time; time.sleep(0.3); print(1)"})] * 4
        results = await asyncio.gather(*(executor.execute(job) for job in jobs))
        assert all(r.exit_code == 0 and r.stdout.strip() == "1" for r in results), results
        assert executor.pool.size == 4  # followed the demand
        assert executor.pool.in_use == 0
    finally:
        await executor.aclose()
