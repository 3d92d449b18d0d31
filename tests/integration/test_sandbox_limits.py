"""The local backend's observed failures on 3f763c6 (issue 14, cases 1-6), run as CI runs: as
root, through the real bubblewrap sandbox. Each test bounds its own wall time, so the old
hangs fail instead of blocking the suite."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from autorust.sandbox.base import ExecutorSettings, Job, Limits, SandboxUnavailableError
from autorust.sandbox.factory import make_executor

pytestmark = pytest.mark.bwrap
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox():
    return make_executor(ExecutorSettings(kind="local"))


@pytest.fixture(scope="module")
def weak():
    return make_executor(ExecutorSettings(kind="subprocess", allow_unsandboxed=True))


async def run(executor, code: str, *, bound_s: float = 20, **limits: object):
    job = Job(files={"main.py": code}, limits=Limits(**{"timeout_s": 3, **limits}))
    return await asyncio.wait_for(executor.execute(job), bound_s)


ENDLESS_OUTPUT = {
    "endless stdout": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
    "endless stderr": "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)",
    "closed descriptors": "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(60)",
    "child keeps the pipes": textwrap.dedent(
        """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            while True:
                sys.stdout.write('z' * 65536)
        time.sleep(60)
        """
    ),
}


@pytest.mark.parametrize("label", list(ENDLESS_OUTPUT))
async def test_timeout_holds_whatever_the_job_does_with_its_pipes(sandbox, label: str) -> None:
    """Case 1: the host used to hang in `await proc.wait()` once its readers were cancelled."""
    started = time.monotonic()
    result = await run(sandbox, ENDLESS_OUTPUT[label], timeout_s=2, max_output_bytes=10_000)
    assert time.monotonic() - started < 10
    assert result.timed_out and result.sandbox_error is None
    assert "timed out after 2.0 s" in result.limits_hit
    if label.startswith(("endless", "child")):
        assert result.truncated and "output truncated at 10000 bytes" in result.limits_hit


@pytest.mark.parametrize("label", ["endless stdout", "child keeps the pipes"])
async def test_weak_mode_timeout_holds_and_removes_the_job_dir(weak, label: str) -> None:
    started = time.monotonic()
    code = "import os; print('DIR', os.getcwd(), flush=True)\n" + ENDLESS_OUTPUT[label]
    result = await run(weak, code, timeout_s=2, max_output_bytes=10_000)
    assert time.monotonic() - started < 10 and result.timed_out
    workdir = result.stdout.split()[1]
    assert "autorust-job-" in workdir and not Path(workdir).exists(), "the job dir must go"


async def test_total_disk_use_is_capped_with_a_clear_outcome(sandbox) -> None:
    """Case 2: many files used to fill 1.1 GB (only the per-file size was capped)."""
    code = textwrap.dedent(
        """
        import os
        written = 0
        try:
            for i in range(10_000):
                with open(f"f{i}.bin", "wb") as handle:
                    handle.write(b"x" * 1024 * 1024)
                written += 1
        except OSError as exc:
            print("stopped:", exc.strerror)
        print("MB", written)
        """
    )
    result = await run(sandbox, code, disk_mb=16, timeout_s=20)
    assert "stopped: No space left on device" in result.stdout
    assert int(result.stdout.split("MB")[1]) <= 16
    assert "disk quota exceeded (16 MB)" in result.limits_hit
    assert result.sandbox_error is None
    after = await run(sandbox, "print(open('/proc/self/mounts').read())", disk_mb=16)
    assert after.exit_code == 0, "the next job starts in an empty work dir"


def _interpreter_dirs_in_tmp() -> set[str]:
    """Top folders of /tmp that the sandbox shows read-only because the interpreter lives there
    (a checkout or venv under /tmp, as CI systems often have it: issue #14, case 6)."""
    found = set()
    for prefix in {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}:
        if prefix.parts[:2] == ("/", "tmp") and len(prefix.parts) > 2:
            found.add(prefix.parts[2])
    return found


def _tmp_listing() -> str:
    """Code printing /tmp's entries other than the interpreter's own folders."""
    return f"sorted(set(os.listdir('/tmp')) - set({sorted(_interpreter_dirs_in_tmp())!r}))"


async def test_tmp_is_private_writable_and_capped(sandbox) -> None:
    """Case 4: TMPDIR=/tmp was set but /tmp was not writable for the sandbox uid."""
    code = textwrap.dedent(
        """
        import os, tempfile
        fd, path = tempfile.mkstemp()
        os.write(fd, b"scratch")
        os.close(fd)
        print(os.path.dirname(path), LISTING == [os.path.basename(path)])
        try:
            open("/tmp/big", "wb").write(b"x" * 40 * 1024 * 1024)
        except OSError as exc:
            print("capped:", exc.strerror)
        """
    )
    code = code.replace("LISTING", _tmp_listing())
    first = await run(sandbox, code, disk_mb=16)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.splitlines()[0] == "/tmp True"
    assert "capped: No space left on device" in first.stdout
    second = await run(sandbox, f"import os; print({_tmp_listing()})")
    assert second.stdout.strip() == "[]", "another job's /tmp is never visible"


async def test_each_pooled_sandbox_runs_exactly_one_job(sandbox) -> None:
    code = f"import os\nprint(os.listdir('.'), {_tmp_listing()})\nopen('left.txt','w')\n"
    code += "open('/tmp/left.txt','w')"
    results = [await run(sandbox, code) for _ in range(4)]
    assert all(r.stdout.strip() == "['main.py'] []" for r in results), [r.stdout for r in results]


MATPLOTLIB_JOB = textwrap.dedent(
    """
    import os, time
    started = time.perf_counter()
    import matplotlib.font_manager
    print("import s", round(time.perf_counter() - started, 2))
    cache = [n for n in os.listdir(os.environ["MPLCONFIGDIR"]) if n.startswith("fontlist")]
    print("cache", cache)
    try:
        open(os.path.join(os.environ["MPLCONFIGDIR"], cache[0]), "w")
    except OSError as exc:
        print("read-only:", exc.strerror)
    """
)


async def test_matplotlib_font_cache_is_built_once_and_read_only(sandbox) -> None:
    """Case 5: every figure job rebuilt matplotlib's font cache (+1-2 s)."""
    await sandbox.check()  # builds the cache once per host if it is missing
    for _ in range(2):
        result = await run(sandbox, MATPLOTLIB_JOB, timeout_s=30, memory_mb=1024)
        assert result.exit_code == 0, result.stderr
        assert "building the font cache" not in result.stderr
        assert "read-only: Read-only file system" in result.stdout


def _host_python_script(body: str) -> str:
    """A host-side script that runs one job through a fresh executor and prints the result."""
    site_packages = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    return textwrap.dedent(
        f"""
        import asyncio, site, sys
        site.addsitedir({str(site_packages)!r})
        from autorust.sandbox.base import Job
        from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor
        {textwrap.indent(textwrap.dedent(body), "        ").strip()}
        """
    )


def _run_with_a_venv_python(venv: Path, mode: int, body: str) -> subprocess.CompletedProcess:
    """``body`` (see ``_host_python_script``) run by a fresh venv's Python at ``venv``, whose
    folder gets permissions ``mode``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    venv.chmod(mode)
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", _host_python_script(body)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_interpreter_under_tmp_is_visible_in_the_sandbox(tmp_path: Path) -> None:
    """Case 6: with the Python that runs autorust under /tmp, every job exited 127."""
    venv = Path(tempfile.mkdtemp(prefix="autorust-venv-", dir="/tmp"))
    try:
        # 0o755: as `python -m venv /tmp/venv` leaves it (mkdtemp made it 0700)
        done = _run_with_a_venv_python(
            venv,
            0o755,
            """
            async def main():
                executor = BubblewrapExecutor(warm_pool_size=1)
                await executor.check()
                job = Job(files={"main.py": "import sys; print(sys.prefix)"})
                result = await executor.execute(job)
                print("RESULT", result.exit_code, result.stdout.strip(), result.sandbox_error)
                await executor.aclose()
            asyncio.run(main())
            """,
        )
    finally:
        subprocess.run(["rm", "-rf", str(venv)], check=False)
    assert f"RESULT 0 {venv} None" in done.stdout, done.stdout + done.stderr


def test_unusable_interpreter_is_an_infrastructure_error_not_failing_code(tmp_path: Path) -> None:
    """The start probe turns 'interpreter not visible' into sandbox_error / a clear refusal."""
    private = Path(tempfile.mkdtemp(prefix="autorust-private-", dir="/tmp"))
    venv = private / "venv"
    try:
        # 0o700: the sandbox uid cannot start the interpreter
        done = _run_with_a_venv_python(
            venv,
            0o700,
            """
            from autorust.sandbox.base import SandboxUnavailableError
            async def main():
                executor = BubblewrapExecutor(warm_pool_size=1)
                try:
                    await executor.check()
                except SandboxUnavailableError as exc:
                    print("REFUSED", exc)
                result = await executor.execute(Job(files={"main.py": "print(1)"}))
                print("RESULT", result.exit_code, bool(result.sandbox_error))
                await executor.aclose()
            asyncio.run(main())
            """,
        )
    finally:
        subprocess.run(["rm", "-rf", str(private)], check=False)
    if os.geteuid() != 0:
        pytest.skip("only root runs jobs as another uid")
    assert "REFUSED the sandbox cannot run" in done.stdout, done.stdout + done.stderr
    assert "RESULT None True" in done.stdout


async def test_what_the_job_does_to_itself_is_never_a_sandbox_error(sandbox) -> None:
    cases = {
        "kills itself": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        "exits 127": "import sys; sys.exit(127)",
        "kills everything it may": "import os, signal; os.kill(-1, signal.SIGKILL)",
        "signals pid 1": "import os, signal\ntry:\n    os.kill(1, signal.SIGKILL)\n"
        "except OSError as e:\n    print(e.strerror)",
        "closes stdio": "import os; os.close(0); os.close(1); os.close(2)",
    }
    for label, code in cases.items():
        result = await run(sandbox, code)
        assert result.sandbox_error is None, (label, result.sandbox_error)
        assert not result.timed_out, label
    assert (await run(sandbox, cases["exits 127"])).exit_code == 127
    assert (await run(sandbox, cases["kills itself"])).exit_code == -signal.SIGKILL


async def test_start_failure_is_a_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

    executor = BubblewrapExecutor(warm_pool_size=0)
    monkeypatch.setattr(executor, "python", "/nonexistent/python3")
    with pytest.raises(SandboxUnavailableError, match="sandbox"):
        await executor.check()
    result = await executor.execute(Job(files={"main.py": "print(1)"}))
    assert result.sandbox_error and result.exit_code is None
    await executor.aclose()


KERNEL_SURFACE = textwrap.dedent(
    """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    for name, call in [
        ("user namespace", lambda: libc.unshare(0x10000000)),
        ("mount namespace", lambda: libc.unshare(0x00020000)),
        ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
        ("keyring", lambda: libc.syscall(250, 0, 0, 0, 0, 0)),  # keyctl
        ("bpf", lambda: libc.syscall(321, 0, 0, 0)),
    ]:
        print(name, "ALLOWED" if call() == 0 else os.strerror(ctypes.get_errno()))
    """
)


async def test_seccomp_closes_kernel_surface_the_job_has_no_use_for(sandbox) -> None:
    """Not in the issue: as an unprivileged uid the job could still create a user namespace
    (full capabilities over new mounts), use keyrings or load eBPF."""
    from autorust.sandbox.bubblewrap.seccomp import filter_program

    if filter_program() is None:
        pytest.skip("libseccomp is not installed")
    result = await run(sandbox, KERNEL_SURFACE)
    assert result.exit_code == 0, result.stderr
    assert "ALLOWED" not in result.stdout, result.stdout
    assert result.stdout.count("Operation not permitted") == 5


ORDINARY_PROGRAM = textwrap.dedent(
    """
    import multiprocessing, subprocess, sys, threading
    import numpy
    def square(x):
        return x * x
    if __name__ == "__main__":
        threads = [threading.Thread(target=square, args=(i,)) for i in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        with multiprocessing.Pool(2) as pool:
            print(pool.map(square, range(4)))
        print(subprocess.run([sys.executable, "-c", "print('child')"], capture_output=True,
                             text=True).stdout.strip())
        print(int(numpy.arange(10).sum()))
    """
)


async def test_ordinary_programs_still_run_under_the_filter(sandbox) -> None:
    result = await run(sandbox, ORDINARY_PROGRAM, timeout_s=30)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["[0,", "1,", "4,", "9]", "child", "45"]


async def test_cpu_file_size_and_process_limits_are_named_for_the_coder(sandbox) -> None:
    cpu = await run(sandbox, "while True: pass", cpu_s=1, timeout_s=8)
    assert not cpu.timed_out and "CPU time limit (1 s)" in cpu.limits_hit
    big = await run(sandbox, "open('big.bin', 'wb').write(b'x' * 3 * 1024 * 1024)", file_size_mb=1)
    assert big.exit_code == 1 and "file size limit (1 MB)" in big.limits_hit
    forks = "import os, time\nfor _ in range(50):\n    if os.fork() == 0:\n        time.sleep(5)\n"
    forked = await run(sandbox, forks + "        os._exit(0)", processes=8)
    assert "process limit (8)" in forked.limits_hit, forked.stderr
