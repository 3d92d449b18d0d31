"""Issue 14, case 7: what a hostile job did inside the Cloud Function on 3f763c6 (it ran as the
function's own user, root here), tried again through the real functions-framework server on
loopback, as root like CI. Two instances are served: the default (bubblewrap available: the
local backend's containment) and the no-namespace ``uid`` fallback a runtime without user
namespaces gets (forced here, behind a simulated Google front end)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest

from autorust.sandbox.base import Job, Limits
from autorust.sandbox.cloud_function.client import CloudFunctionExecutor
from tests.support.cloud_function_server import cloud_function, world_readable_python

pytestmark = [pytest.mark.cloud_function, pytest.mark.bwrap]
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "containment-token"


class CountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await super().handle_async_request(request)


@pytest.fixture(scope="module", params=["bwrap", "uid"])
def function(request: pytest.FixtureRequest):
    if os.geteuid() != 0:
        pytest.skip("containment is tested as root, like CI")
    if request.param == "bwrap":
        with cloud_function(token=TOKEN) as url:
            yield "bwrap", url
        return
    python = world_readable_python()
    if python is None:
        pytest.skip("no interpreter an unprivileged uid can run")
    env = {"AUTORUST_CF_ISOLATION": "uid", "K_SERVICE": "autorust-test"}
    with cloud_function(token=TOKEN, env=env, python=python) as url:
        yield "uid", url


async def run(function, code: str, **limits: object):
    mode, url = function
    transport = CountingTransport()
    client = CloudFunctionExecutor(url, token_provider=lambda a: TOKEN, transport=transport)
    job = Job(files={"main.py": code}, limits=Limits(**{"timeout_s": 5, **limits}))
    result = await client.execute(job)
    assert transport.requests == 1, "a job is sent once, whatever it did"
    assert result.sandbox_error is None, result.sandbox_error
    return mode, result


async def test_isolation_is_reported_and_the_job_is_unprivileged(function) -> None:
    mode, url = function
    response = httpx.post(url, headers={"Authorization": f"Bearer {TOKEN}"},
                          content=Job(files={"main.py": "import os; print(os.getuid())"})
                          .model_dump_json(), timeout=60)  # fmt: skip
    assert response.headers["X-Autorust-Isolation"] == mode
    assert int(response.json()["stdout"]) != 0


async def test_loopback_is_unreachable(function) -> None:
    if function[0] == "uid":
        pytest.skip("without namespaces the network is closed by the deployment (docs)")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    code = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
    code += "    print('CONNECTED')\nexcept OSError as e:\n    print('blocked')"
    try:
        _, result = await run(function, code)
    finally:
        listener.close()
    assert result.stdout.strip() == "blocked"


async def test_host_files_cannot_be_read_or_written(function) -> None:
    secret = Path.home() / f".autorust-cf-secret-{uuid.uuid4().hex}"
    secret.write_text("top secret")
    venv_file = ROOT / ".venv" / "pyvenv.cfg"
    targets = [str(secret), str(ROOT / f"evil-{uuid.uuid4().hex}"), str(venv_file),
               str(ROOT / ".venv" / "bin" / f"evil-{uuid.uuid4().hex}")]  # fmt: skip
    code = textwrap.dedent(
        f"""
        for path in {targets!r}:
            try:
                data = open(path).read()
                print("READ" if "top secret" in data else "read-public", path)
            except OSError:
                print("no-read", path)
            try:
                open(path, "a").write("x")
                print("WROTE", path)
            except OSError:
                print("no-write", path)
        """
    )
    try:
        _, result = await run(function, code)
    finally:
        secret.unlink()
    assert "READ" not in result.stdout and "WROTE" not in result.stdout, result.stdout
    assert "top secret" not in venv_file.read_text()
    assert not list(ROOT.glob("evil-*"))


async def test_the_task_image_is_unreadable_in_every_mode(function, tmp_path: Path) -> None:
    """Issue 21 case 9: in the uid mode a figure program copied the world-readable input
    chart as its output.png and scored 1.0. Landlock now confines the bare mode's reads."""
    shared = Path(tempfile.mkdtemp(prefix="autorust-task-"))
    try:
        shared.chmod(0o755)
        image = shared / "chart.png"
        image.write_bytes((ROOT / "examples" / "images" / "sales_chart.png").read_bytes())
        image.chmod(0o644)
        targets = [str(image), str(ROOT / "examples" / "images" / "sales_chart.png")]
        code = textwrap.dedent(
            f"""
            import shutil
            for path in {targets!r}:
                try:
                    shutil.copy(path, "output.png")
                    print("COPIED", path)
                except OSError as exc:
                    print("blocked", type(exc).__name__)
            """
        )
        _, result = await run(function, code)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert "COPIED" not in result.stdout and result.stdout.count("blocked") == 2, result.stdout


async def test_other_processes_environment_is_unreadable(function) -> None:
    code = textwrap.dedent(
        """
        import os
        mine, readable, total = os.getuid(), 0, 0
        try:
            listed = os.listdir("/proc")
        except OSError:  # uid mode: Landlock leaves the host's /proc out of reach
            listed = []
        for pid in filter(str.isdigit, listed):
            try:
                if os.stat(f"/proc/{pid}").st_uid == mine:
                    continue
                total += 1
                open(f"/proc/{pid}/environ", "rb").read()
                readable += 1
            except OSError:
                pass
        print(readable, total)
        """
    )
    mode, result = await run(function, code)
    readable, others = map(int, result.stdout.split())
    assert readable == 0, "another process's environment (API keys!) was readable"
    if mode == "bwrap":
        assert others <= 2, "only the sandbox's own init and supervisor are visible"


async def test_no_host_process_is_listed_or_its_command_line_read(function) -> None:
    """Issue 22, case 4: in ``uid`` mode every host process's command line was readable (API
    keys and paths on command lines); the job now sees no /proc/<pid> but its sandbox's."""
    code = textwrap.dedent(
        """
        import os
        mine, seen, readable = os.getuid(), 0, 0
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                if os.stat(f"/proc/{pid}").st_uid == mine:
                    continue
                seen += 1
                if open(f"/proc/{pid}/cmdline", "rb").read():
                    readable += 1
            except OSError:
                pass
        try:
            own = len(open("/proc/1/cmdline", "rb").read()) if os.getpid() != 1 else 0
        except OSError:
            own = -1
        import subprocess, sys  # what a job needs of /proc still works: a child, the CPUs
        child = subprocess.run([sys.executable, "-c", "print(3)"], capture_output=True)
        print(seen, readable, child.stdout.decode().strip(), os.cpu_count() or 0)
        """
    )
    mode, result = await run(function, code, memory_mb=512)
    assert result.exit_code == 0, result.stderr[-2000:]
    seen, readable, total, cpus = result.stdout.split()
    assert total == "3" and int(cpus) >= 1
    if mode == "bwrap":  # its own pid namespace: only the sandbox's init and supervisor
        assert int(seen) <= 2
    else:
        assert int(readable) == 0, f"{readable} host processes' command lines were readable"


async def test_server_cannot_be_signalled_or_traced_and_survives(function) -> None:
    """Old: the job (root) signalled and ptrace-attached other processes and killed its own
    server worker, and the client retried that job 4 times."""
    sentinel = subprocess.Popen(["sleep", "120"])
    code = textwrap.dedent(
        f"""
        import ctypes, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        for pid in (os.getppid(), {sentinel.pid}):
            try:
                os.kill(pid, signal.SIGKILL)
                print("killed", pid)
            except OSError:
                print("could not kill", pid)
            if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
                print("traced", pid)
        """
    )
    try:
        _, result = await run(function, code)
        assert sentinel.poll() is None, "a host process was killed by the job"
    finally:
        sentinel.kill()
        sentinel.wait()
    assert "traced" not in result.stdout
    assert f"killed {sentinel.pid}" not in result.stdout
    _, after = await run(function, "print('still serving')")
    assert after.stdout == "still serving\n"


async def test_abstract_unix_socket_is_unreachable(function) -> None:
    if function[0] == "uid":
        pytest.skip("abstract sockets belong to the network namespace (bwrap only)")
    name = f"\0autorust-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(name)
    listener.listen()
    code = f"import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({name!r})\n"
    code += "    print('CONNECTED')\nexcept OSError:\n    print('blocked')"
    try:
        _, result = await run(function, code)
    finally:
        listener.close()
    assert result.stdout.strip() == "blocked"


async def test_a_daemon_does_not_outlive_its_job(function) -> None:
    marker = Path("/tmp") / f"autorust-cf-daemon-{uuid.uuid4().hex}"
    code = textwrap.dedent(
        f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1.5)
                open({str(marker)!r}, "w").write("still alive")
                os._exit(0)
            os._exit(0)
        print("daemon left behind")
        """
    )
    _, result = await run(function, code)
    assert "daemon left behind" in result.stdout
    time.sleep(2.5)
    assert not marker.exists(), "the daemon survived the job"


async def test_shared_memory_and_tmpfs_are_capped_and_cleaned(function) -> None:
    name = f"autorust-cf-shm-{uuid.uuid4().hex}"
    code = textwrap.dedent(
        f"""
        written = 0
        try:
            for i in range(400):
                with open(f"/dev/shm/{name}-{{i}}", "wb") as handle:
                    handle.write(b"x" * 1024 * 1024)
                written += 1
        except OSError as exc:
            print("stopped", exc.strerror)
        print("MB", written)
        """
    )
    mode, result = await run(function, code, disk_mb=16, timeout_s=20)
    if mode == "uid":  # Landlock: the host's /dev/shm is not writable at all
        assert "stopped Permission denied" in result.stdout and "MB 0" in result.stdout
    else:
        assert "disk quota exceeded (16 MB)" in result.limits_hit
    if result.stdout:
        assert int(result.stdout.split("MB")[-1]) < 200, "RAM filled through tmpfs"
    assert not list(Path("/dev/shm").glob(f"{name}-*")), "files left in the host's /dev/shm"


async def test_hard_link_to_a_host_file_is_not_collected(function) -> None:
    target = str(Path(os.path.realpath("/usr/bin/python3")))
    code = f"import os\ntry:\n    os.link({target!r}, 'leak.png')\nexcept OSError as e:\n"
    code += "    print('no link', e.strerror)\nopen('own.png', 'wb').write(b'mine')"
    client = CloudFunctionExecutor(function[1], token_provider=lambda a: TOKEN)
    result = await client.execute(Job(files={"main.py": code}, collect=["*.png"]))
    assert result.files == {"own.png": b"mine"}


async def test_without_bubblewrap_outside_google_the_function_refuses() -> None:
    if os.geteuid() != 0:
        pytest.skip("run as root like CI")
    transport = CountingTransport()
    with cloud_function(token=TOKEN, env={"AUTORUST_CF_ISOLATION": "uid"}) as url:
        client = CloudFunctionExecutor(url, token_provider=lambda a: TOKEN, transport=transport)
        result = await client.execute(Job(files={"main.py": "print(1)"}))
    assert transport.requests == 1
    assert result.sandbox_error and "refuses to run code" in result.sandbox_error
    assert "AUTORUST_CF_ALLOW_WEAK_ISOLATION" in result.sandbox_error
    assert result.exit_code is None and result.stdout == ""


async def test_the_opt_out_allows_the_weaker_mode_and_says_so() -> None:
    python = world_readable_python()
    if os.geteuid() != 0 or python is None:
        pytest.skip("needs root and an interpreter an unprivileged uid can run")
    env = {"AUTORUST_CF_ISOLATION": "uid", "AUTORUST_CF_ALLOW_WEAK_ISOLATION": "1"}
    with cloud_function(token=TOKEN, env=env, python=python) as url:
        client = CloudFunctionExecutor(url, token_provider=lambda a: TOKEN)
        result = await client.execute(Job(files={"main.py": "print(1)"}))
    assert result.stdout == "1\n"
    assert any("without namespaces" in warning for warning in result.warnings)
