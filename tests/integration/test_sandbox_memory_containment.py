"""Issue 22, cases 1-4 and 9: memory the kernel holds for a job outside every rlimit (memfd,
SysV shared memory and message queues, tmpfs inodes, files unlinked while open), and what the
sandbox tells a job about its host. Each hostile job is tried on every backend mode it applies
to (the local bubblewrap sandbox; the Cloud Function with bubblewrap and in its ``uid``
fallback, through the real functions-framework server), as root like CI, and judged by a
host-side watchdog (tests/support/host_watchdog.py), never by what the job says.

The attacks are bounded (about 1 GB at most) so that on a build without the fix they fail the
test without endangering the machine; the limits here are memory_mb=128 and disk_mb=64, so a
contained job may make the host hold at most 128 + 64 + 64 MB. The margins below allow for other
processes on a shared machine moving MemAvailable and Shmem while the job runs.
"""

from __future__ import annotations

import ctypes
import os
import textwrap
from pathlib import Path

import pytest

from autorust.sandbox.base import Job, JobResult, Limits
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor
from autorust.sandbox.cloud_function.client import CloudFunctionExecutor
from tests.support.cloud_function_server import cloud_function, world_readable_python
from tests.support.host_watchdog import HostWatchdog, WatchReport

pytestmark = [pytest.mark.bwrap, pytest.mark.cloud_function]
TOKEN = "memory-containment-token"
LIMITS = {"timeout_s": 10, "memory_mb": 128, "disk_mb": 64}
BUDGET_MB = 128 + 64 + 64
NOISE_MB = 300  # other sessions' tests on the same machine
MEMORY_HIT = "memory limit (128 MB)"


@pytest.fixture(scope="module", params=["local", "cloud-bwrap", "cloud-uid"])
def backend(request: pytest.FixtureRequest):
    if os.geteuid() != 0:
        pytest.skip("containment is tested as root, like CI")
    if request.param == "local":
        yield "local", BubblewrapExecutor(warm_pool_size=1)
        return
    env, python = None, None
    if request.param == "cloud-uid":
        python = world_readable_python()
        if python is None:
            pytest.skip("no interpreter an unprivileged uid can run")
        env = {"AUTORUST_CF_ISOLATION": "uid", "K_SERVICE": "autorust-test"}
    with cloud_function(token=TOKEN, env=env, python=python) as url:
        yield request.param, CloudFunctionExecutor(url, token_provider=lambda audience: TOKEN)


async def run(backend, code: str, **limits: object) -> tuple[JobResult, WatchReport]:
    _, executor = backend
    job = Job(files={"main.py": textwrap.dedent(code)}, limits=Limits(**{**LIMITS, **limits}))
    with HostWatchdog(watch=[Path("/dev/shm")]) as dog:
        result = await executor.execute(job)
    print(f"{backend[0]}: {dog.report.summary()}; limits hit: {result.limits_hit}")
    assert result.sandbox_error is None, result.sandbox_error
    return result, dog.report


def assert_host_held_little(report: WatchReport) -> None:
    assert report.shmem_rise_mb < BUDGET_MB + NOISE_MB, report.summary()
    assert report.mem_available_drop_mb < BUDGET_MB + NOISE_MB, report.summary()
    assert report.shmem_after_mb < 64, report.summary()
    assert report.ipc_objects_after <= 0, report.summary()


MEMFD = """
import os
chunk = b"x" * (1 << 20)
fds = []
try:
    for i in range(16):
        fds.append(os.memfd_create(f"m{i}"))
        for _ in range(63):
            os.write(fds[-1], chunk)
    print("held", 16 * 63, "MB")
except OSError as exc:
    print("refused", exc.errno)
"""


async def test_memfd_counts_against_the_memory_limit(backend) -> None:
    """Case 1: 1 GB in memfds, never mapped (RSS stays tiny under RLIMIT_AS)."""
    result, report = await run(backend, MEMFD)
    assert "held" not in result.stdout, report.summary()
    assert MEMORY_HIT in result.limits_hit or "refused 1" in result.stdout, result
    assert_host_held_little(report)


SYSV_SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
held = 0
for _ in range(12):
    sid = libc.shmget(0, 64 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600, never removed
    if sid < 0:
        print("refused", ctypes.get_errno())
        break
    addr = libc.shmat(sid, None, 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        print("not attached", ctypes.get_errno())
        break
    ctypes.memset(addr, 1, 64 << 20)
    libc.shmdt(ctypes.c_void_p(addr))  # detached: the segment stays, the address space is free
    held += 64
print("held", held, "MB")
"""


async def test_sysv_shared_memory_is_bounded_and_gone_after_the_job(backend) -> None:
    """Case 2: 768 MB of SysV segments, detached and left behind (local, cloud)."""
    result, report = await run(backend, SYSV_SHM)
    assert "held 768" not in result.stdout, report.summary()
    assert MEMORY_HIT in result.limits_hit or "refused 1" in result.stdout, result
    assert_host_held_little(report)


MSG_QUEUES = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
message = ctypes.create_string_buffer(b"\\x01" + b"\\0" * 7 + b"m" * 8184)
held = 0
for _ in range(20000):
    queue = libc.msgget(0, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    if queue < 0:
        print("refused", ctypes.get_errno())
        break
    sent = [libc.msgsnd(queue, message, 8184, 0o4000) for _ in range(2)]  # IPC_NOWAIT
    held += 16
print("held", held // 1024, "MB")
"""


async def test_message_queues_count_against_the_memory_limit(backend) -> None:
    """Case 2: 20,000 SysV message queues of 16 KB each (kernel memory, about 320 MB)."""
    result, report = await run(backend, MSG_QUEUES)
    assert "held 312" not in result.stdout, report.summary()
    assert MEMORY_HIT in result.limits_hit or "refused" in result.stdout, result
    assert_host_held_little(report)


MANY_PROCESSES = """
import os, time
children = []
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(100 << 20)
            for at in range(0, len(block), 4096):
                block[at] = 1
            time.sleep(2)
        finally:
            os._exit(0)
    children.append(pid)
survivors = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
print("survivors", survivors)
"""


async def test_the_memory_limit_caps_all_processes_of_a_job_together(backend) -> None:
    """RLIMIT_AS is per process: 10 processes of 100 MB each were 1 GB under memory_mb=128."""
    result, report = await run(backend, MANY_PROCESSES)
    assert "survivors 10" not in result.stdout, report.summary()
    assert report.mem_available_drop_mb < BUDGET_MB + NOISE_MB, report.summary()
    assert MEMORY_HIT in result.limits_hit, result


INODES = """
import os, tempfile
made = 0
try:
    for root in (os.getcwd(), tempfile.gettempdir()):
        os.mkdir(os.path.join(root, "flood"))
        for i in range(30000):
            open(os.path.join(root, "flood", "n" * 200 + str(i)), "w").close()
            made += 1
finally:
    print("made", made)
"""


async def test_an_inode_flood_hits_a_file_count_limit(backend) -> None:
    """Case 3: 60,000 empty files with long names over the writable mounts."""
    # the uid mode counts by walking the job's dirs, which contends with the flood under load
    result, report = await run(backend, INODES, timeout_s=30)
    assert "made 60000" not in result.stdout, report.summary()
    assert any(hit.startswith("file count limit") for hit in result.limits_hit) or (
        MEMORY_HIT in result.limits_hit
    ), result
    assert report.sunreclaim_rise_mb < 64 + NOISE_MB, report.summary()
    assert_host_held_little(report)


DELETED_OPEN = """
import os, tempfile, time
handle = open(os.path.join(tempfile.gettempdir(), "hidden"), "wb")
os.unlink(handle.name)
chunk = b"x" * (1 << 20)
written = 0
try:
    for _ in range(200):
        handle.write(chunk)
        handle.flush()
        written += 1
finally:
    print("wrote", written, "MB")
    time.sleep(0.5)  # held: what is written stays on the disk
"""


async def test_a_file_unlinked_while_open_counts_against_the_disk_cap(backend) -> None:
    """Case 4 (uid mode: 600 MB under a 64 MB cap on 38a965c); the tmpfs mounts count it too."""
    result, report = await run(backend, DELETED_OPEN, file_size_mb=256)
    assert "wrote 200" not in result.stdout, result
    assert "disk quota exceeded (64 MB)" in result.limits_hit, result
    assert report.mem_available_drop_mb < BUDGET_MB + NOISE_MB, report.summary()


HOST_FACTS = """
import errno, os, socket
print("cmdline", repr(open("/proc/cmdline").read().strip()))
print("boot_id", open("/proc/sys/kernel/random/boot_id").read().strip())
try:
    socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK
    print("vsock open")
except OSError as exc:
    print("vsock", errno.errorcode.get(exc.errno))
"""


async def test_host_identity_and_vsock_are_hidden(backend) -> None:
    """Case 9: the host's boot id and kernel command line; AF_VSOCK sockets."""
    mode, _ = backend
    if mode == "cloud-uid":
        pytest.skip("without a mount namespace /proc is the host's (docs/sandbox.md)")
    result, _ = await run(backend, HOST_FACTS)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["cmdline"] == "''", result.stdout
    assert lines["boot_id"] != Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert lines["vsock"] in ("EAFNOSUPPORT", "EPERM"), result.stdout


SYSCALLS = """
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def tried(name, result):
    print(name, "allowed" if result >= 0 else errno.errorcode.get(ctypes.get_errno()))
tried("unshare", libc.unshare(0x10000000))  # CLONE_NEWUSER
tried("io_uring_setup", libc.syscall(425, 8, ctypes.create_string_buffer(120)))
tried("keyctl", libc.syscall(250, 0, -3, 0))  # KEYCTL_GET_KEYRING_ID
tried("memfd_create", libc.memfd_create(b"x", 0))
tried("msgget", libc.msgget(0, 0o1666))
try:
    socket.socket(40, socket.SOCK_STREAM)
    print("vsock allowed")
except OSError as exc:
    print("vsock", errno.errorcode.get(exc.errno))
"""


async def test_uid_mode_has_the_syscall_filter(backend) -> None:
    """Case 4: on 38a965c the uid mode had no syscall filter at all."""
    mode, _ = backend
    if mode != "cloud-uid":
        pytest.skip("the bubblewrap modes are covered by test_sandbox_limits.py")
    result, _ = await run(backend, SYSCALLS)
    seen = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert seen == {
        "unshare": "EPERM",
        "io_uring_setup": "EPERM",
        "keyctl": "EPERM",
        "memfd_create": "EPERM",
        "msgget": "EPERM",
        "vsock": "EAFNOSUPPORT",
    }, result.stdout + result.stderr


LEAVE_IPC = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
queue = libc.msgget(0x5A22C0DE, 0o1666)  # IPC_CREAT | 0666: readable by any uid
print("queue", queue, ctypes.get_errno())
if queue >= 0:
    message = ctypes.create_string_buffer(b"\\x01\\0\\0\\0\\0\\0\\0\\0secret of job one")
    libc.msgsnd(queue, message, 17, 0)
print("sem", libc.semget(0x5A22C0DF, 1, 0o1666))
"""
READ_IPC = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("queue", libc.msgget(0x5A22C0DE, 0), "sem", libc.semget(0x5A22C0DF, 1, 0))
"""


async def test_a_later_job_cannot_reach_an_earlier_jobs_ipc_objects(backend) -> None:
    """Case 2 (uid mode): queues and semaphores of one job were read by the next job."""
    with HostWatchdog() as dog:
        await run(backend, LEAVE_IPC)
        second, _ = await run(backend, READ_IPC)
    assert second.stdout.split() == ["queue", "-1", "sem", "-1"], second.stdout
    assert dog.report.ipc_objects_after <= 0, dog.report.summary()


def test_remove_ipc_objects_removes_what_a_uid_left() -> None:
    """The clean-up the uid mode runs after each job (whatever the filter let through)."""
    from autorust.sandbox.supervisor import remove_ipc_objects

    if os.geteuid() != 0:
        pytest.skip("needs root to act as another uid")
    uid = 61_999  # outside the leased range
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            libc = ctypes.CDLL(None, use_errno=True)
            ids = [libc.msgget(0, 0o1666), libc.semget(0, 1, 0o1666), libc.shmget(0, 4096, 0o1666)]
            os.write(write_end, b"ok" if min(ids) >= 0 else b"no")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 2) == b"ok"
    os.close(read_end)
    os.close(write_end)
    assert remove_ipc_objects(uid) == 3
    for kind, column in (("shm", 7), ("msg", 7), ("sem", 4)):
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        assert not [row for row in rows if int(row.split()[column]) == uid], kind


def test_this_machine_gives_each_sandbox_a_cgroup() -> None:
    """Where a memory cgroup can be made (root, controllers mounted) the sandboxes use it; this
    documents which mode the tests above exercised."""
    from autorust.sandbox import cgroup

    if os.geteuid() != 0:
        pytest.skip("cgroups need root")
    reason = cgroup.available()
    if reason is not None:
        pytest.skip(f"no cgroup here ({reason}): the tests above ran the channel-closing mode")
    group = cgroup.create(128, 64, 64)
    assert group is not None
    try:
        assert group.oom_kills() == 0
    finally:
        assert group.remove()


async def test_without_a_cgroup_the_memory_channels_are_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback where no cgroup can be made (no root, no controllers): simulated here by
    refusing every cgroup; memfd and SysV IPC are then denied, file floods still stopped."""
    if os.geteuid() != 0:
        pytest.skip("containment is tested as root, like CI")
    from autorust.sandbox import cgroup

    monkeypatch.setattr(cgroup, "create", lambda *args: None)
    executor = BubblewrapExecutor(warm_pool_size=0)
    backend = ("local-no-cgroup", executor)
    try:
        for code in (MEMFD, SYSV_SHM, MSG_QUEUES):
            result, report = await run(backend, code)
            assert "refused 1" in result.stdout, result  # EPERM
            assert_host_held_little(report)
        result, _ = await run(backend, INODES)
        assert any(hit.startswith("file count limit") for hit in result.limits_hit), result
    finally:
        await executor.aclose()
