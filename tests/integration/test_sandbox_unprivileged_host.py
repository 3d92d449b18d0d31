"""The local sandbox when autorust itself is not root: bubblewrap's user namespace maps the
caller's uid (no uid leases), nested user namespaces are refused, and a job that kills its own
supervisor (it shares its uid) is the job's outcome, not a sandbox error."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.support.cloud_function_server import world_readable_python

pytestmark = pytest.mark.bwrap

SCRIPT = textwrap.dedent(
    """
    import site, sys
    for folder in {site_dirs!r}:
        site.addsitedir(folder)
    import asyncio, json
    from autorust.sandbox.base import Job
    from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

    USERNS = '''
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    print("nested" if libc.unshare(0x10000000) == 0 else os.strerror(ctypes.get_errno()))
    '''

    async def main():
        executor = BubblewrapExecutor(warm_pool_size=1)
        await executor.check()
        out = {{}}
        for name, code in [
            ("who", "import os; print(os.getuid(), os.getcwd())"),
            ("userns", USERNS),
            ("kill_all", "import os, signal; os.kill(-1, signal.SIGKILL)"),
        ]:
            result = await executor.execute(Job(files={{"main.py": code}}))
            out[name] = result.model_dump(include={{"exit_code", "stdout", "sandbox_error",
                                                    "warnings"}})
        await executor.aclose()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def test_the_sandbox_works_for_an_unprivileged_caller() -> None:
    python = world_readable_python()
    if os.geteuid() != 0 or python is None:
        pytest.skip("needs root to become nobody, and an interpreter nobody can run")
    home = Path(tempfile.mkdtemp(prefix="autorust-nobody-"))  # pytest's tmp is root-only
    try:
        home.chmod(0o777)
        script = home / "as_nobody.py"
        script.write_text(SCRIPT.format(site_dirs=site.getsitepackages()))
        script.chmod(0o644)
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, str(script)],
            capture_output=True,
            text=True,
            timeout=120,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            cwd=home,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["who"]["stdout"] == "65534 /job\n"
    assert out["userns"]["stdout"].strip() in ("Operation not permitted", "No space left on device")
    assert out["kill_all"]["sandbox_error"] is None
    assert out["kill_all"]["warnings"] == ["the job killed the sandbox's supervisor"]
