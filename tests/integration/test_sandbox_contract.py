"""What the interpreter node and the new test harness rely on (the executor contract): stdin of
about 1 MB, child interpreters that read the work dir and write artefacts, collect globs."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from autorust.sandbox.base import ExecutorSettings, Job, Limits
from autorust.sandbox.factory import make_executor

pytestmark = pytest.mark.bwrap
PLAN = "x" * 1_000_000


@pytest.fixture(scope="module", params=["local", "subprocess"])
def executor(request: pytest.FixtureRequest):
    return make_executor(
        ExecutorSettings(kind=request.param, allow_unsandboxed=request.param == "subprocess")
    )


async def test_a_one_megabyte_plan_arrives_on_stdin(executor) -> None:
    job = Job(files={"main.py": "import sys; print(len(sys.stdin.read()))"}, stdin=PLAN)
    result = await asyncio.wait_for(executor.execute(job), 30)
    assert result.exit_code == 0 and result.stdout == f"{len(PLAN)}\n"


async def test_a_job_that_never_reads_its_stdin_still_ends(executor) -> None:
    job = Job(files={"main.py": "print('ignored')"}, stdin=PLAN)
    result = await asyncio.wait_for(executor.execute(job), 30)
    assert result.exit_code == 0 and result.stdout == "ignored\n"


CHILD_WRITES_ARTEFACT = textwrap.dedent(
    """
    import subprocess, sys
    child = "import pathlib; data = pathlib.Path('input.txt').read_text(); "
    child += "pathlib.Path('output.png').write_bytes(data.encode()); "
    child += "pathlib.Path('plots').mkdir(); pathlib.Path('plots/a.png').write_bytes(b'a')"
    subprocess.run([sys.executable, "-c", child], check=True)
    print("done")
    """
)


async def test_child_interpreters_share_the_work_dir_and_artefacts_are_collected(
    executor,
) -> None:
    job = Job(
        files={"main.py": CHILD_WRITES_ARTEFACT, "input.txt": "from the plan"},
        collect=["*.png", "**/*.png", "missing-*.json"],
        limits=Limits(timeout_s=20),
    )
    result = await asyncio.wait_for(executor.execute(job), 40)
    assert result.exit_code == 0, result.stderr
    assert result.files == {"output.png": b"from the plan", "plots/a.png": b"a"}


async def test_hard_links_and_symlinked_dirs_are_never_collected(executor) -> None:
    code = textwrap.dedent(
        """
        import os
        open("real.png", "wb").write(b"real")
        os.link("real.png", "linked.png")
        os.symlink("/usr/bin", "bin")
        os.mkdir("sub")
        os.symlink("/etc", "sub/etc")
        """
    )
    job = Job(files={"main.py": code}, collect=["*.png", "bin/*", "sub/etc/*", "**/*"])
    result = await asyncio.wait_for(executor.execute(job), 30)
    assert result.exit_code == 0, result.stderr
    assert set(result.files) == {"main.py"}, "a hard-linked file could be a host file"


FORK_FALLS_THROUGH = textwrap.dedent(
    """
    import os, time
    pid = os.fork()
    if pid:
        time.sleep(0.5)
        os.waitpid(pid, 0)
        print("parent done")
    """
)
EXITS = {
    "sys.exit(3)": 3,
    "sys.exit(256)": 0,
    "sys.exit(-1)": 255,
    "sys.exit('bye')": 1,
    "raise SystemExit": 0,
    "raise KeyError('k')": 1,
    "os._exit(7)": 7,
}


async def test_exit_codes_and_forks_end_the_job_as_a_fresh_interpreter_would(executor) -> None:
    forked = await executor.execute(Job(files={"main.py": FORK_FALLS_THROUGH}))
    assert forked.stdout == "parent done\n", "a fork reaching the end must not end the job"
    for statement, code in EXITS.items():
        job = Job(files={"main.py": f"import os, sys\nprint('x', flush=True)\n{statement}"})
        result = await executor.execute(job)
        assert (result.exit_code, result.stdout) == (code, "x\n"), statement
