"""The warm pool's lifecycle and the host-wide uid leases (issue 14, case 3 and "What to build"
item 3), with real autorust processes that are stopped, interrupted and killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autorust.sandbox.base import Job, SandboxUnavailableError
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor
from autorust.sandbox.leases import UidLeases

pytestmark = pytest.mark.bwrap
ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import asyncio, json, sys
    from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

    async def main():
        executor = BubblewrapExecutor(warm_pool_size=2)
        await executor.check()
        for instance in list(executor.pool._idle):
            await instance.ready()
        idle = list(executor.pool._idle)
        print(json.dumps({
            "pids": [i.proc.pid for i in idle],
            "uids": [i.launch.config["uid"] for i in idle],
        }), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def _start_holder() -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "the holder process did not start its pool"
    return proc, json.loads(line)


def _gone(pids: list[int], within_s: float = 5) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _uid_processes(uids: list[int]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids are used only as root")
async def test_two_autorust_processes_never_share_a_sandbox_uid() -> None:
    """Case 3: every process used to count uids down from 61499, so they collided."""
    holder, held = _start_holder()
    try:
        ours = BubblewrapExecutor(warm_pool_size=0)
        uids = set()
        for _ in range(6):
            result = await ours.execute(Job(files={"main.py": "import os; print(os.getuid())"}))
            uids.add(int(result.stdout))
        assert not uids & set(held["uids"]), (uids, held)
        leases = UidLeases()
        taken = [leases.take() for _ in range(200)]
        assert not {lease.value for lease in taken} & set(held["uids"])
        for lease in taken:
            lease.release()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids are used only as root")
def test_kill_9_leaves_no_sandbox_and_frees_its_uids() -> None:
    holder, held = _start_holder()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert _gone(held["pids"]), "bwrap dies with its parent"
    assert _uid_processes(held["uids"]) == [] or _gone(_uid_processes(held["uids"]))
    for uid in held["uids"]:
        lease = UidLeases(uids=range(uid, uid + 1)).take()  # raises if still held
        assert lease.value == uid, "a crashed holder's uid is free again"
        lease.release()


def test_ctrl_c_stops_the_pool() -> None:
    holder, held = _start_holder()
    holder.send_signal(signal.SIGINT)
    assert holder.wait(15) != 0
    assert _gone(held["pids"])


async def test_aclose_stops_every_warm_sandbox() -> None:
    executor = BubblewrapExecutor(warm_pool_size=2)
    await executor.check()
    assert executor.pool.idle == 2, "started ahead of demand"
    pids = [instance.proc.pid for instance in executor.pool._idle]
    result = await executor.execute(Job(files={"main.py": "print('ok')"}))
    assert result.stdout == "ok\n"
    await asyncio.sleep(0.05)
    pids += [instance.proc.pid for instance in executor.pool._idle]
    await executor.aclose()
    assert _gone(pids)
    assert executor.pool.idle == 0


def test_uid_leases_are_exclusive_within_one_process_too(tmp_path: Path) -> None:
    # a private lease folder: the host's is shared with any other autorust process running
    leases = UidLeases(uids=range(62990, 62992), directory=tmp_path)
    first, second = leases.take(), leases.take()
    assert {first.value, second.value} == {62990, 62991}
    with pytest.raises(SandboxUnavailableError, match="in use"):
        UidLeases(uids=range(62990, 62992), directory=tmp_path).take()
    first.release()
    assert UidLeases(uids=range(62990, 62992), directory=tmp_path).take().value == first.value
    second.release()


async def test_pool_serves_a_later_event_loop() -> None:
    executor = BubblewrapExecutor(warm_pool_size=1)
    await executor.check()

    def in_another_loop() -> str:
        return asyncio.run(executor.execute(Job(files={"main.py": "print('other loop')"}))).stdout

    assert await asyncio.to_thread(in_another_loop) == "other loop\n"
    await executor.aclose()


def test_start_up_sweep_removes_job_dirs_of_a_killed_process() -> None:
    """The no-namespace mode keeps job dirs on the host: a `kill -9` must not leave them."""
    from autorust.sandbox.leases import JobDirs

    code = textwrap.dedent(
        """
        import time
        from autorust.sandbox.leases import JobDirs
        path, lease = JobDirs().make()
        (path / "leftover.bin").write_bytes(b"x" * 1000)
        print(path, flush=True)
        time.sleep(3600)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    path = Path(holder.stdout.readline().strip())
    assert path.is_dir()
    assert path not in JobDirs().sweep(), "a live owner's dir is kept"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert path in JobDirs().sweep()
    assert not path.exists() and not path.with_suffix(".lock").exists()
