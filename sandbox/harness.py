"""Runs *inside the sandbox*: executes the spec's tests against solution.py.

Shipped as a file next to the generated code; it imports nothing from autorust. Usage:
``python _harness.py <results-file>``. Reads ``_tests.json``; writes one JSON result per test.
"""

import ast
import contextlib
import io
import json
import signal
import subprocess
import sys
import traceback

PER_TEST_TIMEOUT_S = 5


class _TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _TestTimeout()


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return eval(text, {})  # e.g. float("inf"), set()


def _short(value, limit=2000):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def _normalise(text):
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _run_stdio(test, timeout):
    try:
        proc = subprocess.run(
            [sys.executable, "solution.py"],
            input=test.get("stdin") or "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"passed": False, "error": f"timed out after {timeout}s"}
    actual = proc.stdout
    result = {
        "expected": repr(test["expected_stdout"]),
        "actual": _short(repr(actual)),
        "passed": proc.returncode == 0
        and _normalise(actual) == _normalise(test["expected_stdout"]),
    }
    if proc.returncode != 0:
        result["error"] = f"exit code {proc.returncode}: {_short(proc.stderr[-1500:])}"
    return result


def _run_function(namespace, test, timeout):
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            actual = eval(test["call"], namespace)
    except _TestTimeout:
        return {
            "passed": False,
            "expected": test["expected"],
            "error": f"timed out after {timeout}s",
        }
    except BaseException:
        return {
            "passed": False,
            "expected": test["expected"],
            "error": _short(traceback.format_exc(limit=3)),
        }
    finally:
        signal.alarm(0)
    expected = _literal(test["expected"])
    return {"passed": actual == expected, "expected": _short(expected), "actual": _short(actual)}


def main():
    results_file = sys.argv[1]
    with open("_tests.json", encoding="utf-8") as handle:
        plan = json.load(handle)
    timeout = int(plan.get("per_test_timeout_s", PER_TEST_TIMEOUT_S))
    results = []
    exit_code = 0
    if plan["interface"] == "function":
        namespace = {"__name__": "solution"}
        try:
            with open("solution.py", encoding="utf-8") as handle:
                exec(compile(handle.read(), "solution.py", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            exit_code = 1
            namespace = None
        for test in plan["tests"]:
            if namespace is None:
                outcome = {"passed": False, "error": "solution.py failed to load (see stderr)"}
            else:
                outcome = _run_function(namespace, test, timeout)
            results.append({"name": test["name"], **outcome})
    elif plan["interface"] == "stdio":
        for test in plan["tests"]:
            results.append({"name": test["name"], **_run_stdio(test, timeout)})
    else:  # figure (or a plain program): run it once as a script
        proc = subprocess.run(
            [sys.executable, "solution.py"], timeout=plan.get("run_timeout_s", 60)
        )
        exit_code = proc.returncode
    with open(results_file, "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    for result in results:
        print(("PASS " if result["passed"] else "FAIL ") + result["name"])
    # Failing tests are reported per test; a non-zero exit means the program itself broke.
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
