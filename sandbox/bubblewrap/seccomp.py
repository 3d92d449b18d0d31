"""A seccomp filter for the sandbox, compiled with libseccomp (the library bubblewrap's own
users rely on), handed to ``bwrap --seccomp FD``.

Namespaces and an unprivileged uid already contain the job; this removes the kernel surface a
contained job has no use for and that container escapes go through: creating namespaces
(a user namespace would hand the job a full capability set over new mounts), mounting, keyrings,
eBPF, userfaultfd, io_uring, perf events, module and kexec loading. Everything else is allowed,
so ordinary programs (threads, subprocesses, multiprocessing, numpy) run unchanged.

Always denied as well: AF_VSOCK sockets (a channel to the hypervisor host). With
``close_memory_channels`` (a sandbox without a memory cgroup, and the ``uid`` mode, which shares
the host's IPC namespace) the kernel memory no rlimit counts is closed too: memfd_create and
memfd_secret, every SysV IPC call (shared memory, message queues, semaphores) and POSIX message
queues. POSIX semaphores and shared memory (files in /dev/shm, as multiprocessing uses) stay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import tempfile
from functools import cache

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
AF_VSOCK = 40
MEMORY_CHANNELS = (
    "memfd_create", "memfd_secret", "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd",
    "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl", "ipc", "mq_open",
    "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", "mq_unlink",
)  # fmt: skip
DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "keyctl", "add_key", "request_key", "bpf", "userfaultfd",
    "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "open_by_handle_at",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "vhangup",
)  # fmt: skip
NAMESPACE_FLAGS = (
    0x10000000,  # CLONE_NEWUSER
    0x00020000,  # CLONE_NEWNS
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x02000000,  # CLONE_NEWCGROUP
)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | code


@cache
def filter_program(close_memory_channels: bool = False) -> bytes | None:
    """The compiled BPF program, or None when libseccomp is not installed."""
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return None
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)
    ]  # fmt: skip
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        return None
    try:
        deny = _errno_action(errno.EPERM)

        def add(syscall: str, action: int, *conditions: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number < 0:
                return  # not on this architecture / libseccomp version
            array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
            if lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array) != 0:
                raise OSError(f"seccomp rule for {syscall} rejected")

        for syscall in DENIED:
            add(syscall, deny)
        if close_memory_channels:
            for syscall in MEMORY_CHANNELS:
                add(syscall, deny)
        add("socket", _errno_action(errno.EAFNOSUPPORT), _ArgCmp(0, SCMP_CMP_EQ, AF_VSOCK, 0))
        for flag in NAMESPACE_FLAGS:
            add("clone", deny, _ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag))
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone
        add("clone3", _errno_action(errno.ENOSYS))
        with tempfile.TemporaryFile() as handle:
            if lib.seccomp_export_bpf(ctx, handle.fileno()) != 0:
                return None
            handle.seek(0)
            return handle.read()
    finally:
        lib.seccomp_release(ctx)


def program_fd(program: bytes) -> int:
    """A readable fd holding the program (bwrap reads it to the end at start-up)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)  # a few hundred bytes: fits the pipe buffer
    finally:
        os.close(write_end)
    return read_end
