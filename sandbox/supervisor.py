"""Runs INSIDE a sandbox, started before any job is known: a warm interpreter for one job.

Standard library only: the host passes this file's source with ``python -c``. Life of one
sandbox:

1. Start-up (ahead of demand): fork the *job process*, which drops to the job's uid (as root:
   ``setresuid``; capabilities vanish with it) and waits for the job; the supervisor keeps
   uid 0 with only CAP_SETUID/SETGID/KILL, so the job can neither signal nor trace it.
   Then write the ``ready`` frame to the host.
2. The host sends the job frame straight to the job process and a control frame (limits,
   collect globs) to the supervisor, which starts the wall clock. The job process applies the
   rlimits, writes the job's files into the work dir
   and runs ``python script.py`` / ``-c`` / ``-m`` *in-process* (no new interpreter start:
   the job costs the exec of its code), anything else via ``execv``.
3. When the job process exits or the timeout passes, every other process of the job is killed
   (``kill(-1)``), the ``collect`` globs are read (regular files of the work dir only: no
   symlinks, no hard links, nothing from another file system) and the result frame plus one
   raw frame per file go back to the host. The sandbox is then discarded by the host.

The ``bare`` mode (no bubblewrap: the Cloud Function fallback) runs this same file directly on
the host as root: the job gets a leased unprivileged uid, ``no_new_privs``, a private work dir
and tmp dir, a polled disk cap, and every process of that uid is killed when the job ends.

Frames are ``4-byte big-endian length + payload`` (JSON or raw bytes); the host side reads
them with ``read_frames`` below.
"""

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import stat
import struct
import sys
import time

MB = 1024 * 1024
HEADER = struct.Struct(">I")
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
EXIT = struct.Struct(">i")
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# files (and dirs) the job may hold across its writable mounts: each costs the kernel an inode
# and a dentry (about 1 KB with a long name) that no size limit of a tmpfs counts
MAX_INODES = 20000
# what a collected file may be called: no control characters, no escapes, nothing hidden
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/")
MAX_NAME = 200
# set in the job process: where it reports its exit code right before leaving, so the supervisor
# need not wait for the kernel to tear the process down
_done = {"fd": None, "pid": None}


def encode_frame(payload):
    return HEADER.pack(len(payload)) + payload


def read_frames(buffer):
    """(complete frames, rest of the buffer)."""
    frames = []
    while len(buffer) >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer)
        if len(buffer) < HEADER.size + size:
            break
        frames.append(bytes(buffer[HEADER.size : HEADER.size + size]))
        buffer = buffer[HEADER.size + size :]
    return frames, buffer


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd):
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size))
    return _read_exact(fd, size)


def _prctl(option, value):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


# -- the job process ---------------------------------------------------------------------------


def _install_seccomp(program):
    """bare mode: the same filter bubblewrap installs for its sandboxes (after no_new_privs)."""

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    fprog = SockFprog(len(program) // 8, program)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "could not install the seccomp filter")


def _drop_privileges(config):
    # when the sandbox's memory cgroup is full, the kernel kills the job, never its supervisor
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
        handle.write("1000")
    uid = config.get("uid")
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # all-nonzero uids: the kernel clears every capability
        if os.geteuid() == 0 or os.getuid() == 0:
            raise OSError("still root after setresuid")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if config.get("seccomp"):
        _install_seccomp(bytes.fromhex(config["seccomp"]))
    # A uid change makes the process non-dumpable, which would hand /proc/self to root;
    # a fresh interpreter would be dumpable again, so be one.
    _prctl(PR_SET_DUMPABLE, 1)


# Landlock (Linux >= 5.13), for the bare mode: the job may read only what an interpreter needs
# and write only its own dirs, so world-readable host files (the task's input image, other
# users' files, the project checkout) are out of its reach as they are under bubblewrap.
_LANDLOCK_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_LANDLOCK_ALL = (1 << 13) - 1  # every ABI 1 filesystem right
_SYS_LANDLOCK = (444, 445, 446)  # create_ruleset, add_rule, restrict_self (x86-64, arm64)


# /proc's host-wide files an interpreter or numpy may read; never a /proc/<pid> directory (the
# host's /proc: other processes' command lines and status are no business of the job)
_PROC_FILES = ("/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/loadavg", "/proc/filesystems")


def _landlock_paths(config):
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix,
                os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}  # fmt: skip
    system = {"/usr", "/lib", "/lib64", "/bin", "/etc", "/sys", "/dev", *_PROC_FILES}
    read = sorted(prefixes | system)
    write = [config["workdir"], config["tmpdir"], "/dev/null"]
    return read, write


def _landlock(config):
    """Restrict this process (and what it execs) to ``_landlock_paths``; raises OSError when
    the kernel has no Landlock, so the host can refuse the weaker sandbox."""
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    create, add, restrict = _SYS_LANDLOCK
    attr = ctypes.create_string_buffer(struct.pack("=Q", _LANDLOCK_ALL))
    ruleset = libc.syscall(create, attr, ctypes.c_size_t(8), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "Landlock is not available")
    try:
        read, write = _landlock_paths(config)
        for paths, access in ((read, _LANDLOCK_READ), (write, _LANDLOCK_ALL)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # absent on this host (e.g. /lib64)
                try:
                    is_dir = os.path.isdir(path)
                    rights = access if is_dir else access & ((1 << 0) | (1 << 1) | (1 << 2))
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd))
                    if libc.syscall(add, ruleset, 1, rule, 0) != 0:
                        raise OSError(ctypes.get_errno(), f"Landlock rule for {path}")
                finally:
                    os.close(fd)
        if libc.syscall(restrict, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "Landlock restrict_self")
    finally:
        os.close(ruleset)


def _apply_limits(limits):
    pairs = [
        (resource.RLIMIT_AS, limits["memory_mb"] * MB),
        (resource.RLIMIT_CPU, limits["cpu_s"]),
        # no one file outgrows the disk quota (by more than the MB that lets the quota check
        # see it exceeded): a burst into a file unlinked while open ends there, not between
        # two looks of the quota check (uid mode walks the disk, it has no tmpfs size)
        (resource.RLIMIT_FSIZE, min(limits["file_size_mb"], limits["disk_mb"] + 1) * MB),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, limits["processes"]),
    ]
    for which, value in pairs:
        _, hard = resource.getrlimit(which)
        # CPU: SIGXCPU at the limit (a clear outcome), SIGKILL a second later if it is ignored
        new_hard = value + 1 if which == resource.RLIMIT_CPU else value
        if hard != resource.RLIM_INFINITY:
            value, new_hard = min(value, hard), min(new_hard, hard)
        resource.setrlimit(which, (value, new_hard))


def _write_job_files(workdir, files):
    root = os.path.realpath(workdir)
    for name, content in files.items():
        target = os.path.realpath(os.path.join(root, name))
        if not target.startswith(root + os.sep):
            raise ValueError(f"job file {name!r} would land outside the work dir")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(content)


def _strip_own_frames(tb, job_globals):
    """The traceback as `python script.py` would print it: from the job's first frame."""
    first = tb
    while tb is not None:
        if tb.tb_frame.f_globals is job_globals:
            return tb
        tb = tb.tb_next
    return first


def _exit_code_of(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run_in_process(argv, workdir):
    """``python ARGS`` for the forms a fresh interpreter would run the same way; None if the
    form needs a real exec (interpreter flags)."""
    import types

    args = argv[1:]
    if not args or (args[0].startswith("-") and args[0] not in ("-c", "-m")):
        return None
    if args[0] == "-m":
        if len(args) < 2:
            return None
        import runpy

        sys.argv = [args[1], *args[2:]]  # runpy replaces argv[0] by the module's path
        sys.path[0] = os.getcwd()
        try:
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            return _exit_code_of(exc)
        except BaseException as exc:
            exc.__traceback__ = exc.__traceback__.tb_next
            sys.excepthook(type(exc), exc, exc.__traceback__)
            return _interrupted(exc)
        return 0
    if args[0] == "-c":
        if len(args) < 2:
            return None
        source, filename, sys.argv = args[1], "<string>", ["-c", *args[2:]]
        sys.path[0] = ""
        main_file = None
    else:
        filename = os.path.abspath(args[0])
        with open(filename, "rb") as handle:
            source = handle.read()
        sys.argv = list(args)
        sys.path[0] = os.path.dirname(filename)
        main_file = filename
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    if main_file is not None:
        module.__file__ = main_file
    sys.modules["__main__"] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except SystemExit as exc:
        return _exit_code_of(exc)
    except BaseException as exc:
        exc.__traceback__ = _strip_own_frames(exc.__traceback__, module.__dict__)
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return _interrupted(exc)
    return 0


def _interrupted(exc):
    if isinstance(exc, KeyboardInterrupt):
        sys.stdout.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 1


def job_process(config, job_fd, ready_fd):
    """Runs in the forked job process; returns the exit code (the caller raises SystemExit so
    the interpreter finalises exactly as after ``python script.py``)."""
    _drop_privileges(config)
    if config["mode"] == "bare":
        _landlock(config)
    for name in config.get("preload") or ():  # as the job's uid, before the job exists
        with contextlib.suppress(Exception):  # the job meets the same error when it imports it
            __import__(name)
    gc.collect()  # touches every object now, so copy-on-write faults are not paid by the job
    gc.freeze()  # and the job's own collections (and the one at its end) skip them
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    job = json.loads(_read_frame(job_fd))
    os.close(job_fd)
    _apply_limits(job["limits"])
    workdir = config["workdir"]
    try:
        _write_job_files(workdir, job["files"])
    except OSError as exc:
        print(f"autorust sandbox: could not write the job's files: {exc}", file=sys.stderr)
        return 1
    os.chdir(workdir)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as a fresh interpreter sets it
    argv = job["argv"]
    if argv[0] == "python":
        code = _run_in_process(argv, workdir)
        if code is not None:
            return code
        argv = [sys.executable, *argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"{argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127


def end_job_process(code):
    """Leave like ``python script.py`` does where a program can tell: non-daemon threads
    joined, atexit handlers run, the main module's objects released (open files flushed and
    closed), std streams flushed; without tearing the whole interpreter down (that alone would
    cost more than the job's start)."""
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
        main_module = sys.modules.get("__main__")
        if main_module is not None and main_module.__dict__ is not globals():
            main_module.__dict__.clear()
        gc.collect()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    finally:
        code = code if isinstance(code, int) else 1
        if _done["fd"] is not None and os.getpid() == _done["pid"]:  # not in the job's forks
            with contextlib.suppress(OSError, struct.error):
                os.write(_done["fd"], EXIT.pack(code))
        os._exit(code)


# -- the supervisor ----------------------------------------------------------------------------


def _wait_for(pid, deadline, poll=None, done_fd=None):
    """Wait until ``pid`` exits, reports its exit code on ``done_fd``, or the deadline passes;
    returns (wait status or None, reported exit code or None)."""
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    watched = [fd for fd in (pidfd, done_fd) if fd is not None]
    step = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, None
        if done_fd is not None and select.select([done_fd], [], [], 0)[0]:
            report = os.read(done_fd, EXIT.size)
            if len(report) == EXIT.size:
                return None, EXIT.unpack(report)[0] & 0xFF
            done_fd = None  # closed without a report: wait for the exit itself
            watched = [fd for fd in (pidfd,) if fd is not None]
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None
        wait = min(left, 0.02 if poll else 3600)
        if watched and pidfd is not None:
            select.select(watched, [], [], wait)
        else:
            time.sleep(min(wait, step))
            step = min(step * 2, 0.05)
        if poll is not None and poll():
            return None, None


def _other_processes(exclude=()):
    me = os.getpid()
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me, *exclude):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            alive.append(int(entry))
    return alive


def _processes_of(uid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                    continue  # a zombie does nothing; its parent reaps it
        except (OSError, IndexError):
            continue
        found.append(int(entry))
    return found


def kill_uid(uid):
    """Kill every process of ``uid`` on this host (bare mode, as root): a helper process takes
    the uid and calls kill(-1), which the kernel applies atomically against forks."""
    for _ in range(50):
        if not _processes_of(uid):
            return True
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.005)
    return not _processes_of(uid)


def _kill_the_job(config, exiting=()):
    """Kill every process of the job but ``exiting`` (already on its way out, SIGKILLed too)."""
    if config["mode"] == "bare":
        return kill_uid(config["uid"])
    # bwrap: a private pid namespace; everything but its init (pid 1) and us is the job's
    deadline = time.monotonic() + 2
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        if not _other_processes(exiting):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)


def _tree_bytes(path, uid=None, counts=None):
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if uid is not None and info.st_uid != uid:
                continue
            total += info.st_blocks * 512
            if counts is not None:
                counts["inodes"] = counts.get("inodes", 0) + 1
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
    return total


def _deleted_open_bytes(uid):
    """Bytes of files the uid's processes hold open after unlinking them: no tree walk sees
    them, yet they take the disk until the last descriptor goes."""
    total, seen = 0, set()
    for pid in _processes_of(uid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 0 and key not in seen:
                seen.add(key)
                total += info.st_blocks * 512
    return total


def _disk_used(config, counts=None):
    """Bytes the job holds in the places it can write (bare mode: no tmpfs caps)."""
    used = _tree_bytes(config["workdir"], counts=counts)
    used += _tree_bytes(config["tmpdir"], counts=counts)
    for shared in SHARED_WRITABLE:
        used += _tree_bytes(shared, uid=config["uid"], counts=counts)
    return used + _deleted_open_bytes(config["uid"])


def _inodes_used(paths):
    used = 0
    for path in paths:
        with contextlib.suppress(OSError):
            info = os.statvfs(path)
            used += info.f_files - info.f_ffree
    return used


def _full(path):
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    size = info.f_blocks * info.f_frsize
    return size > 0 and info.f_bavail * info.f_frsize < max(64 * 1024, size // 200)


def _remove_owned(path, uid):
    """Bare mode: delete what the job's uid left in the shared writable dirs."""
    import shutil

    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid != uid:
            continue
        try:
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def remove_owned_files(uid):
    for shared in SHARED_WRITABLE:
        _remove_owned(shared, uid)


# /proc/sysvipc/<kind>: (id column, owner columns, the ctl call that removes one)
_IPC_TABLES = {
    "shm": (1, (7, 9), "shmctl"),
    "msg": (1, (7, 9), "msgctl"),
    "sem": (1, (4, 6), "semctl"),
}
IPC_RMID = 0


def remove_ipc_objects(uid):
    """bare mode (the host's IPC namespace): remove every SysV shared memory segment, message
    queue and semaphore set the uid owns or created, so no later job (another uid) reads them
    and no memory stays held. Returns how many were removed."""
    libc = ctypes.CDLL(None, use_errno=True)
    removed = 0
    for kind, (id_col, owner_cols, call) in _IPC_TABLES.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            try:
                if uid not in (int(fields[owner_cols[0]]), int(fields[owner_cols[1]])):
                    continue
                ident = int(fields[id_col])
            except (IndexError, ValueError):
                continue
            ctl = getattr(libc, call)
            args = (ident, 0, IPC_RMID, None) if call == "semctl" else (ident, IPC_RMID, None)
            result = ctl(*args)
            removed += result == 0
    return removed


def _safe_open(root, relative, root_dev, uid):
    """An fd on root/relative if it is a regular, singly linked file of the work dir reached
    without following any symlink; else None."""
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    info = os.fstat(file_fd)
    if (
        not stat.S_ISREG(info.st_mode)
        or info.st_nlink != 1
        or info.st_dev != root_dev
        or (uid is not None and info.st_uid != uid)
    ):
        os.close(file_fd)
        return None
    return file_fd


def safe_name(name):
    """Whether a collected file's name may reach the host (file names, logs, prompts)."""
    return 0 < len(name) <= MAX_NAME and set(name) <= NAME_CHARS and not name.startswith("-")


def collect(workdir, patterns, max_bytes, uid=None, max_files=16, max_file_bytes=None):
    """[(name, bytes)], warnings. At most ``max_files`` files, each at most ``max_file_bytes``
    and all together at most ``max_bytes``; names outside NAME_CHARS are never collected (nor
    repeated in a warning)."""
    import glob  # only when files are collected: not part of every sandbox start

    root = os.path.realpath(workdir)
    root_dev = os.stat(root).st_dev
    per_file = max_bytes if max_file_bytes is None else min(max_bytes, max_file_bytes)
    found, warnings, total = [], [], 0
    seen = set()
    skipped = {"names": 0, "count": 0}
    for pattern in patterns:
        for name in glob.iglob(pattern, root_dir=root, recursive=True):
            name = os.path.normpath(name)
            if name in seen:
                continue
            seen.add(name)
            if not safe_name(name):
                skipped["names"] += 1
                continue
            if len(found) >= max_files:
                skipped["count"] += 1
                if skipped["count"] > 1000:  # enough to say so; stop walking a flood
                    break
                continue
            fd = _safe_open(root, name, root_dev, uid)
            if fd is None:
                continue
            try:
                size = os.fstat(fd).st_size
                if size > per_file or total + size > max_bytes:
                    warnings.append(f"file {name} not collected: over the size limit "
                                    f"({per_file} bytes a file, {max_bytes} in all)")  # fmt: skip
                    continue
                with os.fdopen(fd, "rb", closefd=False) as handle:
                    data = handle.read(size + 1)[:size]
            finally:
                os.close(fd)
            found.append((name, data))
            total += len(data)
    if skipped["names"]:
        warnings.append(f"{skipped['names']} file(s) not collected: names may only use "
                        "letters, digits and . _ - /")  # fmt: skip
    if skipped["count"]:
        warnings.append(f"only the first {max_files} matching files were collected")
    return found, warnings


def _limits_hit(config, job, status, timed_out, stats):
    limits = job["limits"]
    hit = []
    if timed_out:
        hit.append(f"timed out after {float(limits['timeout_s']):.1f} s")
    if stats.get("disk_full"):
        hit.append(f"disk quota exceeded ({limits['disk_mb']} MB)")
    if stats.get("too_many_files"):
        hit.append(f"file count limit ({MAX_INODES} files)")
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            hit.append(f"CPU time limit ({limits['cpu_s']} s)")
        if sig == signal.SIGXFSZ:
            hit.append(f"file size limit ({limits['file_size_mb']} MB)")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = usage.ru_utime + usage.ru_stime
    if used >= 0.98 * limits["cpu_s"] and not any("CPU" in h for h in hit):
        hit.append(f"CPU time limit ({limits['cpu_s']} s)")
    return hit


def supervise(config, child, ctl_in, ctl_out, done_r):
    job = json.loads(_read_frame(ctl_in))  # the host sends the job itself to the job process
    started = time.monotonic()
    deadline = started + float(job["limits"]["timeout_s"])
    stats = {}
    cap = job["limits"]["disk_mb"] * MB
    # the mounts' inodes in use before the job: what the job adds is its own
    baseline = _inodes_used(config["quota_paths"])

    pace = {"next": 0.0}

    def poll():
        if config["mode"] == "bare":
            now = time.monotonic()
            if now < pace["next"]:
                return False
            counts = {}
            if _disk_used(config, counts) > cap:
                stats["disk_full"] = True
            inodes = counts.get("inodes", 0)
            # a walk contends with the job for its dirs' locks: leave the job (at least) four
            # times the walk's time between two walks
            pace["next"] = time.monotonic() + max(0.05, 4 * (time.monotonic() - now))
        else:
            inodes = _inodes_used(config["quota_paths"]) - baseline
            # a full tmpfs is ENOSPC for the job, not a reason to stop it; but a file unlinked
            # while open is gone by the end, so look while the job runs
            if not stats.get("disk_full") and any(map(_full, config["quota_paths"])):
                stats["disk_seen_full"] = True
        if inodes > MAX_INODES:
            stats["too_many_files"] = True
        return bool(stats.get("disk_full") or stats.get("too_many_files"))

    status, reported = _wait_for(child, deadline, poll, done_r)
    if reported is not None and config["mode"] == "bare":
        _, status = os.waitpid(child, 0)  # kill_uid waits for the uid's last process anyway
    stopped = stats.get("disk_full") or stats.get("too_many_files")
    timed_out = status is None and reported is None and not stopped
    clean = _kill_the_job(config, exiting=(child,) if reported is not None else ())
    if status is None and reported is None:
        _, status = os.waitpid(child, 0)
    duration = time.monotonic() - started
    if config["mode"] != "bare":
        stats["disk_full"] = stats.get("disk_seen_full") or any(map(_full, config["quota_paths"]))
    files, warnings = collect(
        config["workdir"], job["collect"], job["max_collect_bytes"],
        uid=config["uid"] if config["mode"] == "bare" else None,
        max_files=job.get("max_collect_files", 16),
        max_file_bytes=job.get("max_collect_file_bytes", job["max_collect_bytes"]),
    )  # fmt: skip
    if not clean:
        warnings.append("some processes of the job could not be killed")
    result = {
        "exit_code": reported if status is None else os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "duration_s": round(duration, 4),
        "limits_hit": _limits_hit(config, job, status, timed_out, stats),
        "warnings": warnings,
        "files": [[name, len(data)] for name, data in files],
    }
    if config["mode"] == "bare":
        remove_owned_files(config["uid"])
        remove_ipc_objects(config["uid"])
    _write_all(ctl_out, encode_frame(json.dumps(result).encode()))
    for _, data in files:
        _write_all(ctl_out, encode_frame(data))


def main(config):
    config["supervisor_pid"] = os.getpid()
    ctl_in, ctl_out = config["ctl_in"], config["ctl_out"]
    os.set_inheritable(ctl_in, False)
    os.set_inheritable(ctl_out, False)
    os.set_inheritable(config["job_in"], False)
    if config["mode"] == "bare":
        if not kill_uid(config["uid"]):  # leftovers of a crashed predecessor on this uid
            raise OSError(f"processes of uid {config['uid']} survive SIGKILL")
        for path in (config["workdir"], config["tmpdir"]):
            os.chown(path, config["uid"], config["uid"])
            os.chmod(path, 0o700)
    job_in = config["job_in"]
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    child = os.fork()
    if child == 0:
        for fd in (ready_r, done_r, ctl_in, ctl_out):
            os.close(fd)
        _done.update(fd=done_w, pid=os.getpid())
        end_job_process(job_process(config, job_in, ready_w))
    os.close(job_in)
    os.close(ready_w)
    os.close(done_w)
    if os.read(ready_r, 1) != b"1":
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        raise OSError(f"the job process could not drop its privileges (exit status {code})")
    os.close(ready_r)
    _prctl(PR_SET_DUMPABLE, 0)  # a job sharing our uid (no root) cannot reach our pipes
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # the job keeps the real stdio; we never write to it
    os.close(null)
    _write_all(ctl_out, encode_frame(b'{"ready": true}'))
    try:
        supervise(config, child, ctl_in, ctl_out, done_r)
    except EOFError:  # the host discarded this sandbox unused
        _kill_the_job(config)
    return 0


def _enter_site(state):
    """Started with ``-S``: take the ``sys.path`` and prefixes ``site`` gave this interpreter on
    the host, and the ``exit``/``quit``/``help`` builtins it adds (no ``.pth`` code runs)."""
    if not state:
        return
    sys.path[:] = state["path"]
    sys.prefix, sys.exec_prefix = state["prefix"], state["exec_prefix"]
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()


def _entry():
    config = json.loads(sys.argv[1])
    _enter_site(config.get("site"))
    try:
        code = main(config)
    except SystemExit:
        raise
    except BaseException as exc:
        import traceback

        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if os.getpid() == config.get("supervisor_pid", os.getpid()):
            frame = json.dumps({"error": message, "trace": traceback.format_exc()[-2000:]})
            with contextlib.suppress(OSError):
                _write_all(config["ctl_out"], encode_frame(frame.encode()))
        else:
            print(f"autorust sandbox: {message}", file=sys.stderr)
        code = 70
    sys.exit(code)


if __name__ == "__main__" and len(sys.argv) == 2 and sys.argv[0] == "-c":
    _entry()
