"""Warm interpreters that pre-import what a task kind uses, and a pool that follows demand
(issue 26): still one job per sandbox."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Spec, TestCase
from autorust.nodes.support.execution import PRELOAD, build_job, harness_report
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


# the solution records, at its first line, what the interpreter it starts in already holds
LOADED_AT_START = "import sys\nPRE = sorted(m for m in ('numpy', 'pandas') if m in sys.modules)\n"


async def _harness_run(interface: str, source: str, tests: list[TestCase], preload: list[str]):
    spec = Spec(title="t", description="t", interface=interface, function_name="f", tests=tests)
    config = AutorustConfig()
    job, nonce = build_job(spec, tests, source, config)
    job = job.model_copy(update={"preload": preload})
    executor = BubblewrapExecutor(warm_pool_size=1)
    try:
        await executor.check()
        result = await executor.execute(job)
    finally:
        await executor.aclose()
    assert result.sandbox_error is None, result
    report = harness_report(result, nonce)
    assert report is not None, result
    return report


@pytest.mark.parametrize("preload", [["numpy"], []])
async def test_the_harness_children_start_from_the_preloaded_interpreter(preload) -> None:
    """Through the real harness: the function worker and a stdio run start with numpy loaded
    exactly when the job preloads it (before: fresh interpreters, never loaded)."""
    expected = repr(preload)
    function = await _harness_run(
        "function",
        LOADED_AT_START + "def f(x):\n    return PRE\n",
        [TestCase(name="a", call="f(1)", expected=expected)],
        preload,
    )
    assert [t["passed"] for t in function["tests"]] == [True], function
    stdio = await _harness_run(
        "stdio",
        LOADED_AT_START + "print(PRE, input())\n",
        [TestCase(name="a", stdin="x\n", expected_stdout=f"{expected} x\n")],
        preload,
    )
    assert [t["passed"] for t in stdio["tests"]] == [True], stdio


async def test_a_killed_zygote_falls_back_to_fresh_interpreters() -> None:
    """A solution that kills every other process it can reach (the zygote included) only
    loses the preload: later workers are fresh interpreters and the report still arrives."""
    source = (
        "import os, signal, sys\nPRE = 'numpy' in sys.modules\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() and int(pid) not in (os.getpid(), os.getppid()):\n"
        "        try:\n            os.kill(int(pid), signal.SIGKILL)\n"
        "        except OSError:\n            pass\n"
        "def f(x):\n    if x == 1:\n        os._exit(3)\n    return PRE\n"
    )
    tests = [
        TestCase(name="dies", call="f(1)", expected="True"),
        TestCase(name="fresh", call="f(2)", expected="False"),
    ]
    report = await _harness_run("function", source, tests, ["numpy"])
    assert [t["passed"] for t in report["tests"]] == [False, True], report


ZOMBIES = (
    "def zombies():\n    count = 0\n    for pid in os.listdir('/proc'):\n"
    "        try:\n            stat = open(f'/proc/{pid}/stat').read()\n"
    "        except OSError:\n            continue\n"
    "        count += stat.rsplit(')', 1)[1].split()[0] == 'Z'\n    return count\n"
)


async def test_orphans_of_killed_workers_do_not_pile_up_as_zombies_of_the_harness() -> None:
    """Each call leaves 20 sleeping children in its worker's group and exits; the harness kills
    the group. Were those orphans reparented to the harness (a child subreaper the whole time),
    they would stay zombies (40 of them here, before) until the process limit (64) stops forks."""
    source = (
        "import os, time\n" + ZOMBIES + "def f(x):\n    if x:\n        for _ in range(20):\n"
        "            if os.fork() == 0:\n"
        "                os.closerange(0, 1024)\n                time.sleep(60)\n"
        "        os._exit(1)\n    time.sleep(0.2)\n    return zombies()\n"
    )
    tests = [TestCase(name=f"forks{n}", call="f(1)", expected="0") for n in range(6)]
    tests.append(TestCase(name="no zombies", call="f(0)", expected="0"))
    report = await _harness_run("function", source, tests, ["numpy"])
    assert [t["passed"] for t in report["tests"]] == [False] * 6 + [True], report
    assert all("exited" in t["error"] for t in report["tests"][:6]), report


@pytest.mark.parametrize("preload", [["numpy", "numpy.random"], PRELOAD["figure"]])
async def test_forked_children_do_not_share_the_preloaded_random_state(preload) -> None:
    """numpy seeds its global generator at import: children forked from one preloaded
    interpreter must still draw different numbers, as fresh interpreters do (the figure check
    renders twice to catch unseeded randomness)."""
    source = "import numpy as np\nprint(np.random.random())\n"
    tests = [TestCase(name=f"run{n}", stdin="", expected_stdout="x\n") for n in range(3)]
    report = await _harness_run("stdio", source, tests, preload)
    draws = [t["actual"] for t in report["tests"]]
    assert len(set(draws)) == 3, draws
