"""What untrusted code can NOT do in the local bubblewrap sandbox (run as CI runs: as root)."""

from __future__ import annotations

import os
import resource
import socket
import threading
import uuid
from pathlib import Path

import pytest

from autorust.sandbox.base import ExecutorSettings, Job, Limits
from autorust.sandbox.factory import make_executor
from tests.support.host_watchdog import HostWatchdog

pytestmark = pytest.mark.bwrap
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox():
    return make_executor(ExecutorSettings(kind="local"))


async def run(sandbox, code: str, **limits: object):
    job = Job(files={"main.py": code}, limits=Limits(**{"timeout_s": 5, **limits}))
    return await sandbox.execute(job)


async def test_runs_ordinary_code_as_an_unprivileged_user(sandbox) -> None:
    result = await run(sandbox, "import os; print(os.getuid(), os.getcwd())")
    assert result.exit_code == 0 and result.backend == "local-bwrap"
    uid, cwd = result.stdout.split()
    assert cwd == "/job"
    if os.geteuid() == 0:
        assert int(uid) != 0


async def test_no_network_not_even_the_hosts_loopback(sandbox) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[object] = []
    listener.settimeout(4)
    thread = threading.Thread(target=lambda: accepted.append(_accept(listener)), daemon=True)
    thread.start()
    code = f"""
import socket
for target in [("127.0.0.1", {port}), ("10.0.0.1", 80), ("example.com", 80)]:
    try:
        socket.create_connection(target, timeout=1)
        print("CONNECTED", target)
    except OSError as exc:
        print("blocked", type(exc).__name__)
"""
    result = await run(sandbox, code)
    thread.join()
    listener.close()
    assert "CONNECTED" not in result.stdout
    assert result.stdout.count("blocked") == 3
    assert accepted == [None], "the host listener must never see a connection"


def _accept(listener: socket.socket) -> object:
    try:
        conn, _ = listener.accept()
        conn.close()
        return "connection"
    except TimeoutError:
        return None


async def test_host_paths_are_invisible(sandbox, tmp_path: Path) -> None:
    secret = Path.home() / f".autorust-secret-{uuid.uuid4().hex}"
    secret.write_text("top secret")
    try:
        probes = [str(secret), str(ROOT / "pyproject.toml"), str(ROOT / ".git"), "/etc/shadow",
                  "/etc/passwd", str(tmp_path), "/home", "/var/lib"]  # fmt: skip
        code = f"import os\nfor p in {probes!r}:\n    print(p, os.path.exists(p))"
        result = await run(sandbox, code)
    finally:
        secret.unlink()
    assert result.exit_code == 0, result.stderr
    seen = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines())
    assert set(seen.values()) == {"False"}, seen


async def test_no_writes_outside_the_work_dir(sandbox) -> None:
    code = """
import os
for path in ["/usr/evil", "/tmp/../usr/evil2", "/proc/evil", "/evil", "/root/evil"]:
    try:
        open(path, "w").write("x")
        print("WROTE", path)
    except OSError:
        print("denied")
open("inside.txt", "w").write("fine")
print("inside ok")
"""
    result = await run(sandbox, code)
    assert "WROTE" not in result.stdout and "inside ok" in result.stdout
    assert not Path("/usr/evil").exists() and not Path("/evil").exists()


async def test_parent_environment_is_invisible(sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret-123")
    result = await run(sandbox, "import os; print(dict(os.environ))")
    assert "sk-parent-secret" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout


async def test_fork_bomb_is_contained(sandbox) -> None:
    code = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    with HostWatchdog() as dog:
        result = await run(sandbox, code, timeout_s=3, processes=32)
    assert result.timed_out
    # seen from the host: the bomb's processes stay within its limit (+ sandbox, + noise)
    assert dog.report.processes_rise < 32 + 8 + 40, dog.report.summary()
    # the host is still able to start processes and nothing of the bomb is left
    after = await run(sandbox, "print('alive')")
    assert after.stdout.strip() == "alive"


async def test_memory_bomb_is_stopped(sandbox) -> None:
    with HostWatchdog() as dog:
        code = "x = bytearray(4 * 1024**3)\nprint('allocated')"
        result = await run(sandbox, code, memory_mb=256)
    assert dog.report.mem_available_drop_mb < 256 + 64 + 64 + 300, dog.report.summary()
    assert result.exit_code != 0 and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr
    assert "memory limit (256 MB)" in result.limits_hit


async def test_infinite_loop_is_killed_at_the_timeout(sandbox) -> None:
    result = await run(sandbox, "while True: pass", timeout_s=1.5)
    assert result.timed_out and result.exit_code != 0
    assert result.limits_hit == ["timed out after 1.5 s"]
    assert 1.4 < result.duration_s < 4


async def test_double_forked_daemon_ignoring_sigterm_is_gone(sandbox) -> None:
    marker = f"autorust-daemon-{uuid.uuid4().hex}"
    code = f"""
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open("daemon.pid", "w").write(str(os.getpid()))
        loop = "import time\\nwhile True: time.sleep(1)"
        os.execv(sys.executable, [sys.executable, "-c", loop, {marker!r}])
    os._exit(0)
while not os.path.exists("daemon.pid"):
    time.sleep(0.01)
time.sleep(0.3)
print("daemon started:", os.path.exists("/proc/" + open("daemon.pid").read()))
"""
    result = await run(sandbox, code, timeout_s=5)
    assert "daemon started: True" in result.stdout
    survivors = [pid for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)]
    assert survivors == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


async def test_output_flood_is_capped_with_bounded_parent_memory(sandbox) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = "import sys\nchunk = 'x' * 1_000_000\nfor _ in range(300):\n    sys.stdout.write(chunk)"
    result = await run(sandbox, code, timeout_s=20, max_output_bytes=100_000)
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.truncated
    assert len(result.stdout) == 100_000
    assert growth_kb < 50_000, f"parent grew {growth_kb} kB while 300 MB streamed past"


async def test_symlink_to_a_host_file_is_not_collected(sandbox) -> None:
    job = Job(
        files={"main.py": "import os; os.symlink('/etc/hostname', 'leak.png')"},
        collect=["*.png"],
    )
    result = await sandbox.execute(job)
    assert result.exit_code == 0 and result.files == {}


def test_missing_bwrap_is_refused_with_the_fix() -> None:
    from autorust.sandbox.base import SandboxUnavailableError
    from autorust.sandbox.bubblewrap.executor import find_bwrap

    with pytest.raises(SandboxUnavailableError, match=r"apt-get install bubblewrap.*--unsafe"):
        find_bwrap("/nonexistent/bwrap")


async def test_unsandboxed_mode_needs_opt_in_and_is_flagged() -> None:
    from autorust.sandbox.base import SandboxUnavailableError

    with pytest.raises(SandboxUnavailableError, match="allow_unsandboxed"):
        make_executor(ExecutorSettings(kind="subprocess"))
    weak = make_executor(ExecutorSettings(kind="subprocess", allow_unsandboxed=True))
    result = await weak.execute(Job(files={"main.py": "print('hi')"}))
    assert result.stdout == "hi\n"
    assert any("UNSANDBOXED" in warning for warning in result.warnings)
