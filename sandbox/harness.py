"""Runs *inside the sandbox*: judges ``solution.py`` against a test plan.

Shipped as ``_harness.py`` next to the generated code, with the test grammar
(``literals.py``) as ``_literals.py``; it imports nothing else from autorust.
Usage: ``python _harness.py`` with the plan as JSON on standard input::

    {"nonce": "...", "interface": "function" | "stdio" | "figure", "function_name": "f",
     "tests": [{"name", "call", "expected", "tolerance", "stdin", "expected_stdout",
                "source"}, ...],
     "per_test_timeout_s": 5, "run_timeout_s": 60, "second_render": false}

Why the generated code cannot forge the result:
- the plan (with the expected values and the nonce) arrives on stdin and is never written to
  disk; this process makes itself non-dumpable, so processes of the same uid can neither
  ptrace it nor open its ``/proc/<pid>/fd`` or memory;
- a test is data (``literals.py``): the harness parses the call into the function name and
  literal arguments and the expected literal into a value, in its own process; nothing of a
  test is ever evaluated as code, in the solution's namespace or anywhere else;
- the solution only ever runs in *child* processes that get fresh pipes and know nothing but
  the arguments or the input; they call the entry point and send back the returned value as a
  canonical tree (plain JSON data), which the harness checks and compares type-strictly itself.
  A child that exits early, kills itself, shadows builtins, returns objects with forged
  ``__eq__``, monkeypatches anything or prints fake markers only spoils its own answers;
- children are forked from a *zygote*: a fork of this interpreter taken before the plan is read
  (so it holds the preloaded modules, ``Job.preload``, and nothing of the plan), with only
  ``/dev/null`` and its request socket open. Each child gets its own pipes and every other fd
  closed; it is reparented to this process (a child subreaper), which waits for it and kills
  it as before. If the zygote is gone (the program may kill it), children are fresh
  interpreters again;
- the one report leaves through this process's stdout, as a single line framed with the
  nonce: ``\\x1eautorust-result <nonce> <json>\\x1e``. The host accepts nothing else; no
  frame (the harness was killed, or ran out of time) means every test failed.
"""

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

try:  # imported as autorust.sandbox.harness (host side)
    from . import literals
except ImportError:  # run as _harness.py in the sandbox, with _literals.py beside it
    import _literals as literals

FRAME_START = "\x1eautorust-result"
FRAME_END = "\x1e"
FIGURE_RUNNER = "_figure_runner.py"  # shipped next to this file for figure jobs
EXCERPT = 2000
PROGRAM_OUTPUT_CAP = 200_000  # bytes of a child's stdout/stderr kept in memory

# Runs in a child process: loads the solution, then answers one call per request line. The
# child is the solution's territory: whatever it reports is untrusted data, checked and
# compared by this harness (``literals.checked``, ``literals.equal``), never a live object.
WORKER = r"""
import io, json, os, sys, traceback
_out = os.fdopen(int(sys.argv[1]), "w", buffering=1)
_dumps, _write, _flush = json.dumps, _out.write, _out.flush
_StringIO, _stdout = io.StringIO, sys.stdout
_name = sys.argv[2]
_CONTAINERS = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}

def _decode(tree):
    kind = tree[0]
    if kind == "none":
        return None
    if kind in ("bool", "str"):
        return tree[1]
    if kind == "int":
        return int(tree[1])
    if kind == "float":
        return float(tree[1])
    if kind == "complex":
        return complex(float(tree[1]), float(tree[2]))
    if kind == "bytes":
        return bytes.fromhex(tree[1])
    if kind == "dict":
        return {_decode(k): _decode(v) for k, v in tree[1]}
    return _CONTAINERS[kind](_decode(item) for item in tree[1])

def _encode(value, depth=0):
    if depth > 26:
        return ["opaque", type(value).__name__, "<nested too deeply>"]
    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["bool", bool(value)]
    if isinstance(value, int):
        return ["int", int.__repr__(value)]
    if isinstance(value, float):
        return ["float", float.__repr__(value)]
    if isinstance(value, complex):
        return ["complex", float.__repr__(value.real), float.__repr__(value.imag)]
    if isinstance(value, str):
        return ["str", str.__str__(value)]
    if isinstance(value, bytes):
        return ["bytes", bytes.hex(value)]
    for kind in (frozenset, set, tuple, list):
        if isinstance(value, kind):
            return [kind.__name__, [_encode(item, depth + 1) for item in kind.__iter__(value)]]
    if isinstance(value, dict):
        return ["dict", [[_encode(k, depth + 1), _encode(v, depth + 1)]
                         for k, v in dict.items(value)]]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        try:
            return _encode(value.tolist(), depth + 1)
        except Exception:
            pass
    try:
        text = repr(value)[:500]
    except Exception as exc:
        text = "<repr failed: %s>" % type(exc).__name__
    return ["opaque", type(value).__name__, text]

def _send(message):
    _write(_dumps(message) + "\n")
    _flush()

sys.set_int_max_str_digits(0)
_namespace = {"__name__": "solution", "__file__": "solution.py"}
try:
    with open("solution.py", encoding="utf-8") as handle:
        _code = compile(handle.read(), "solution.py", "exec")
    exec(_code, _namespace)
except BaseException as exc:
    _send({"load_error": "%s: %s" % (type(exc).__name__, exc),
           "traceback": traceback.format_exc(limit=4)[-3000:]})
    raise SystemExit(0)
_send({"loaded": True, "has_function": bool(_name) and callable(_namespace.get(_name))})
for _line in sys.stdin:
    _request = json.loads(_line)
    _captured = _StringIO()
    sys.stdout = _captured
    try:
        _args = [_decode(tree) for tree in _request["args"]]
        _kwargs = {key: _decode(tree) for key, tree in _request["kwargs"]}
        _value = _encode(_namespace[_name](*_args, **_kwargs))
    except BaseException as exc:
        sys.stdout = _stdout
        _send({"id": _request["id"], "exception": ("%s: %s" % (type(exc).__name__, exc))[:2000],
               "stdout": _captured.getvalue()[-2000:]})
    else:
        sys.stdout = _stdout
        _send({"id": _request["id"], "value": _value, "stdout": _captured.getvalue()[-2000:]})
"""


def _make_non_dumpable():
    """Same-uid processes can then neither ptrace this process nor read its fds or memory."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except Exception:
        pass


def _short(text, limit=EXCERPT):
    if text is None:
        return None
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def _repr(value):
    try:
        return _short(repr(value))
    except Exception as exc:
        return f"<repr failed: {type(exc).__name__}>"


# ---- the zygote: children start from this (preloaded) interpreter ------------------------

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
ZYGOTE_REPLY_S = 10.0


def _prctl(option, value):
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0


def _close_all_but(keep):
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _std_streams():
    """Fresh std streams on fds 0-2, as a new interpreter opens them on pipes."""
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
        2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False
    )


def _run_as_main(argv):
    """``python ARGV`` in this (forked) interpreter; returns the exit code."""
    import types

    if argv[0] == "-c":
        source, filename, main_file = argv[1], "<string>", None
        sys.argv, sys.path[0] = ["-c", *argv[2:]], ""
    else:
        main_file = filename = os.path.abspath(argv[0])
        with open(filename, "rb") as handle:
            source = handle.read()
        sys.argv, sys.path[0] = list(argv), os.path.dirname(filename)
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    if main_file is not None:
        module.__file__ = main_file
    sys.modules["__main__"] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except BaseException as exc:
        exc.__traceback__ = exc.__traceback__.tb_next  # the program's frames only
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return 1
    return 0


def _reseed():
    """A fresh interpreter draws fresh seeds: so must each fork (``random`` reseeds itself at
    fork; numpy's global generator, seeded when the zygote imported it, does not)."""
    mtrand = sys.modules.get("numpy.random.mtrand")
    if mtrand is not None:
        mtrand.seed()  # from the OS's entropy


def _become_child(request, fds):
    """In the forked child: its own session, fds 0-2 (+3, the answer channel), nothing else."""
    code = 1
    try:
        os.setsid()
        _prctl(PR_SET_DUMPABLE, 1)  # as a freshly executed child is
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]  # clear of 0-3
        for target, fd in enumerate(moved):
            os.dup2(fd, target)
        _close_all_but(set(range(len(fds))))
        os.chdir(request["cwd"])
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        _reseed()
        _std_streams()
        code = _run_as_main(request["argv"])
        threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code if isinstance(code, int) else 1)


def _await_reparenting(middle, limit_s=2.0):
    """The program starts only once its parent is the harness, not the middle process that
    is leaving: what it finds as its parent is then always the same process."""
    deadline = time.monotonic() + limit_s
    while os.getppid() == middle and time.monotonic() < deadline:
        time.sleep(0.0002)


def _zygote_serve(sock):
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    _close_all_but({0, 1, 2, sock.fileno()})
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 8)
        if not message:
            return
        request = json.loads(message)
        report_r, report_w = os.pipe()
        middle = os.fork()
        if middle == 0:  # forks the child and leaves, so the child is reparented to the harness
            pid = os.fork()
            if pid == 0:
                sock.close()
                os.close(report_r)
                os.close(report_w)
                _await_reparenting(os.getppid())
                _become_child(request, fds)
            os.write(report_w, str(pid).encode())
            os._exit(0)
        os.close(report_w)
        pid = os.read(report_r, 64)  # empty if the fork failed (the process limit)
        os.close(report_r)
        os.waitpid(middle, 0)  # the child has been reparented once its parent is reaped
        for fd in fds:
            os.close(fd)
        sock.sendall(pid or b"0")


class _Zygote:
    """Forks children from this interpreter's state before the plan exists."""

    def __init__(self):
        self.sock = None
        # a subreaper only while a child is being handed over (below): otherwise the orphans of
        # killed workers would stay this process's zombies and use up the process limit
        if not (_prctl(PR_SET_CHILD_SUBREAPER, 1) and _prctl(PR_SET_CHILD_SUBREAPER, 0)):
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                _zygote_serve(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.sock, self.pid = ours, pid
        self.sock.settimeout(ZYGOTE_REPLY_S)

    def spawn(self, argv, cwd, fds):
        """The pid of a forked child running ``python ARGV`` on ``fds``, or None."""
        if self.sock is None:
            return None
        try:
            request = json.dumps({"argv": argv, "cwd": os.path.abspath(cwd)}).encode()
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            try:
                socket.send_fds(self.sock, [request], fds)
                reply = self.sock.recv(64)  # after the middle process is gone
            finally:
                _prctl(PR_SET_CHILD_SUBREAPER, 0)
            pid = int(reply or b"0")
        except (OSError, ValueError):
            pid = 0
        if pid <= 0:  # killed, stopped or broken: fresh interpreters from now on
            self.close()
            return None
        return pid

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


_ZYGOTE = None


class _Forked:
    """The part of ``subprocess.Popen`` the harness uses, for a child of the zygote."""

    def __init__(self, pid, stdin_w, stdout_r, stderr_r):
        self.pid, self.returncode = pid, None
        self.stdin = os.fdopen(stdin_w, "wb")
        self.stdout, self.stderr = os.fdopen(stdout_r, "rb"), os.fdopen(stderr_r, "rb")

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired("child", timeout)
            time.sleep(0.002)
        return self.returncode

    def kill(self):
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _start(argv, cwd=".", answer_fd=None):
    """A child running ``python ARGV``: forked from the zygote, else a fresh interpreter.
    ``{fd}`` in argv becomes the answer channel's number in the child."""
    if _ZYGOTE is not None and _ZYGOTE.sock is not None:
        ends = [os.pipe() for _ in range(3)]
        theirs = [ends[0][0], ends[1][1], ends[2][1]] + ([answer_fd] if answer_fd else [])
        pid = _ZYGOTE.spawn([a.replace("{fd}", "3") for a in argv], cwd, theirs)
        for fd in theirs[:3]:
            os.close(fd)
        if pid is not None:
            return _Forked(pid, ends[0][1], ends[1][0], ends[2][0])
        for fd in (ends[0][1], ends[1][0], ends[2][0]):
            os.close(fd)
    return subprocess.Popen(
        [sys.executable, *(a.replace("{fd}", str(answer_fd)) for a in argv)],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(answer_fd,) if answer_fd else (),
        start_new_session=True,
        close_fds=True,
    )


# ---- child processes ---------------------------------------------------------------------


class _Drain(threading.Thread):
    """Reads a child's stream to the end, keeping at most ``cap`` bytes."""

    def __init__(self, stream, cap=PROGRAM_OUTPUT_CAP):
        super().__init__(daemon=True)
        self.stream, self.cap, self.kept, self.truncated = stream, cap, bytearray(), False

    def run(self):
        while chunk := self.stream.read(65536):
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            if len(chunk) > room:
                self.truncated = True

    def text(self):
        return self.kept.decode("utf-8", errors="replace")


def _kill(proc):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def run_program(argv, stdin_text, timeout, cwd="."):
    """``python ARGV`` to completion with bounded output; killed (with its group) at the
    timeout."""
    proc = _start(argv, cwd)
    out, err = _Drain(proc.stdout), _Drain(proc.stderr)
    out.start()
    err.start()
    try:
        proc.stdin.write(stdin_text.encode())
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill(proc)
    proc.wait()
    out.join(1)
    err.join(1)
    return {
        "exit_code": proc.returncode,
        "stdout": out.text(),
        "stderr": err.text(),
        "timed_out": timed_out,
        "truncated": out.truncated or err.truncated,
    }


def _last_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


class Worker:
    """A child process holding the loaded solution; answers calls over a private pipe."""

    def __init__(self, function_name, timeout):
        read_fd, write_fd = os.pipe()
        self.proc = _start(["-c", WORKER, "{fd}", function_name or ""], answer_fd=write_fd)
        os.close(write_fd)
        self.responses = read_fd
        self.buffer = b""
        self.out, self.err = _Drain(self.proc.stdout), _Drain(self.proc.stderr)
        self.out.start()
        self.err.start()
        self.hello = self.receive(timeout)

    def receive(self, timeout):
        """The next message, or None on timeout / when the child is gone."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.responses], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.responses, 65536)
            if not chunk:  # the child closed the channel: it is exiting or gone
                return {"gone": True}
            self.buffer += chunk
            if len(self.buffer) > 4_000_000:
                return {"protocol_error": "the program flooded the answer channel"}
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return {"protocol_error": "the program wrote garbage into the answer channel"}
        return message if isinstance(message, dict) else {"protocol_error": "bad message"}

    def ask(self, request_id, request, timeout):
        try:
            self.proc.stdin.write((json.dumps({"id": request_id, **request}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"gone": True}
        while True:
            message = self.receive(timeout)
            if message is None or "protocol_error" in message or "gone" in message:
                return message
            if message.get("id") == request_id:
                return message
            # a message with another id was not asked for: the program forged it; ignore it

    def exit_code(self, wait=0.0):
        try:
            return self.proc.wait(timeout=wait) if wait else self.proc.poll()
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        _kill(self.proc)
        self.proc.wait()
        os.close(self.responses)
        self.out.join(1)
        self.err.join(1)


# ---- the three interfaces ----------------------------------------------------------------


def _base(test):
    return {
        "name": test["name"],
        "call": test.get("call"),
        "stdin": test.get("stdin"),
        "source": test.get("source", "spec"),
    }


def _dead_worker_reason(worker):
    code = worker.exit_code(wait=2.0)
    if code is None:
        return "the program stopped answering"
    return f"the program exited during the test (exit code {code})"


def _failed(tests, reason):
    return [{**_base(t), "passed": False, "expected": t.get("expected"), "error": reason}
            for t in tests]  # fmt: skip


def _start_worker(name, timeout, program):
    """A worker with the solution loaded, or (None, why every remaining test fails)."""
    worker = Worker(name, timeout + 10)  # loading may import numpy and friends
    hello = worker.hello or {}
    if "load_error" in hello:
        program.update(exit_code=1, stderr=_short(hello.get("traceback", ""), 3000))
        failure = f"solution.py failed to load: {hello['load_error']}"
    elif not hello.get("loaded"):
        program.update(exit_code=worker.exit_code())
        failure = f"solution.py could not be loaded: {_dead_worker_reason(worker)}"
    elif not hello.get("has_function"):
        failure = f"solution.py defines no function named {name!r}"
        program.update(exit_code=1, stderr=failure)
    else:
        return worker, None
    worker.close()
    return None, failure


def _answer_result(answer, worker, timeout):
    """(passed-or-None, fields) for one answer; None answer means the worker must go."""
    if answer is None:
        return None, {"error": f"timed out after {timeout:g}s"}
    if "protocol_error" in answer:
        return None, {"error": answer["protocol_error"]}
    if "gone" in answer:
        return None, {"error": _dead_worker_reason(worker)}
    return True, {"stdout": _short(answer.get("stdout") or None)}


def _request(test, name):
    """The worker's request for one test and the expected tree, or a GrammarError."""
    args, kwargs = literals.parse_call(test["call"], name)
    expected = literals.canonical(literals.parse_literal(test["expected"], "the expected value"))
    request = {
        "args": [literals.canonical(arg) for arg in args],
        "kwargs": [[key, literals.canonical(value)] for key, value in kwargs.items()],
    }
    return request, expected


def _compare(answer, expected, tolerance):
    """(passed, fields) for a value the worker reported."""
    try:
        actual = literals.checked(answer.get("value"))
    except literals.GrammarError as exc:
        return False, {"error": f"the program's answer could not be read: {exc}"}
    passed = literals.equal(actual, expected, tolerance)
    fields = {"actual": literals.render(actual, EXCERPT)}
    if not passed and literals.type_name(actual) != literals.type_name(expected):
        fields["note"] = (
            f"a value of type {literals.type_name(actual)}, where the test expects "
            f"{literals.type_name(expected)}"
        )
    return passed, fields


def run_function_tests(plan):
    timeout = float(plan.get("per_test_timeout_s", 5))
    name = plan.get("function_name") or ""
    results, program = [], {"exit_code": 0, "stdout": "", "stderr": "", "timed_out": False}
    worker = None
    for index, test in enumerate(plan["tests"]):
        result = _base(test)
        try:
            request, expected = _request(test, name)
        except literals.GrammarError as exc:
            results += _failed([test], f"not a valid test: {exc}")
            continue
        result["expected"] = literals.render(expected, EXCERPT)
        if worker is None:
            worker, failure = _start_worker(name, timeout, program)
            if failure:
                results += _failed(plan["tests"][index:], failure)
                break
        answer = worker.ask(index, request, timeout)
        alive, fields = _answer_result(answer, worker, timeout)
        result.update(fields)
        if alive is None:
            program["timed_out"] = program["timed_out"] or "timed out" in fields["error"]
            results.append({**result, "passed": False})
            worker.close()
            worker = None  # the next test gets a fresh process
        elif "exception" in answer:
            results.append({**result, "passed": False, "exception": _short(answer["exception"])})
        else:
            passed, fields = _compare(answer, expected, test.get("tolerance"))
            results.append({**result, **fields, "passed": passed})
    if worker is not None:
        program["stdout"] = _short(worker.out.text(), 3000)
        program["stderr"] = program["stderr"] or _short(worker.err.text(), 3000)
        worker.close()
    return results, program


def run_stdio_tests(plan):
    timeout = float(plan.get("per_test_timeout_s", 5))
    results = []
    for test in plan["tests"]:
        outcome = run_program(["solution.py"], test.get("stdin") or "", timeout)
        result = {
            **_base(test),
            "expected": _repr(test["expected_stdout"]),
            "actual": _repr(outcome["stdout"]),
            "stderr": _short(outcome["stderr"] or None),
        }
        passed = (
            outcome["exit_code"] == 0
            and not outcome["timed_out"]
            and literals.normalise_stdout(outcome["stdout"])
            == literals.normalise_stdout(test["expected_stdout"])
        )
        if outcome["timed_out"]:
            result["error"] = f"timed out after {timeout:g}s"
        elif outcome["exit_code"] != 0:
            result["error"] = f"exit code {outcome['exit_code']}"
            last = _last_line(outcome["stderr"])
            if "Error" in last or "Exception" in last:
                result["exception"] = _short(last)
        results.append({**result, "passed": passed})
    return results, {"exit_code": 0, "stdout": "", "stderr": "", "timed_out": False}


def run_figure(plan):
    timeout = float(plan.get("run_timeout_s", 60))
    argv = ["solution.py"]
    if os.path.isfile(FIGURE_RUNNER):  # saves the figure again at the target's size
        size = plan.get("target_size") or (0, 0)
        argv = [FIGURE_RUNNER, *(str(int(v)) for v in size)]
    outcome = run_program(argv, "", timeout)
    program = {key: outcome[key] for key in ("exit_code", "timed_out")}
    program["stdout"] = _short(outcome["stdout"], 3000)
    program["stderr"] = _short(outcome["stderr"], 3000)
    if plan.get("second_render") and outcome["exit_code"] == 0 and os.path.isfile("output.png"):
        os.makedirs("_render2", exist_ok=True)
        shutil.copy("solution.py", os.path.join("_render2", "solution.py"))
        run_program(["solution.py"], "", timeout, cwd="_render2")
    return [], program


def main():
    global _ZYGOTE
    _make_non_dumpable()
    # before the plan is read: the zygote (and every child) never holds any of it
    with contextlib.suppress(OSError):
        _ZYGOTE = _Zygote()
    plan = json.loads(sys.stdin.read())
    nonce = plan.pop("nonce")
    sys.stdin.close()
    runner = {"function": run_function_tests, "stdio": run_stdio_tests}.get(
        plan["interface"], run_figure
    )
    tests, program = runner(plan)
    report = {"interface": plan["interface"], "tests": tests, "program": program}
    sys.stdout.write(f"{FRAME_START} {nonce} {json.dumps(report)}{FRAME_END}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
