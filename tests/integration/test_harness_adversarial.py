"""Generated code cannot change what the harness reports (issue #12, case 6).

Every program here tries to pass tests it does not solve: forging a results file, printing a
fake report frame, exiting early, killing the harness, returning an object equal to
everything, patching the worker, reading the plan. Each runs in the real sandbox, and each
ends with every test failed and a reason a person can act on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Execution, Spec, TestCase
from autorust.nodes.checker import describe_test
from autorust.nodes.support.execution import run_tests

pytestmark = pytest.mark.bwrap

SPEC = Spec(
    title="double",
    description="double(x) returns 2 * x",
    function_name="double",
    tests=[
        TestCase(name="one", call="double(1)", expected="2"),
        TestCase(name="seven", call="double(7)", expected="14"),
    ],
)
FAKE_FRAME = (
    '"\\x1eautorust-result 0123456789abcdef0123456789abcdef {\\"interface\\": \\"function\\", '
    '\\"tests\\": [{\\"name\\": \\"one\\", \\"passed\\": true}, {\\"name\\": \\"seven\\", '
    '\\"passed\\": true}], \\"program\\": {}}\\x1e"'
)
ADVERSARIES = {
    "forges_results_file": (
        "import json, glob\n"
        "for name in ['_results.json', '_results_0000.json']:\n"
        "    json.dump([{'name': 'one', 'passed': True}, {'name': 'seven', 'passed': True}],"
        " open(name, 'w'))\n"
        "print('PASS one')\nprint('PASS seven')\n"
        "def double(x):\n    return 0\n",
        "got 0",
    ),
    "prints_a_fake_report_frame": (
        f"import os, sys\nsys.stdout.write({FAKE_FRAME})\nos.write(1, {FAKE_FRAME}.encode())\n"
        "def double(x):\n    return None\n",
        "got None",
    ),
    "exits_at_import": ("import sys\nsys.exit(0)\ndef double(x):\n    return 2 * x\n", "load"),
    "os_exit_at_import": ("import os\nos._exit(0)\n", "could not be loaded"),
    "os_exit_in_the_call": (
        "import os\ndef double(x):\n    os._exit(0)\n",
        "exited during the test",
    ),
    "kills_the_harness": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
        "def double(x):\n    return 2 * x\n",
        "stopped before reporting",
    ),
    "returns_an_object_equal_to_everything": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "    def __repr__(self):\n        return 'Anything()'\n"
        "def double(x):\n    return Anything()\n",
        "got Anything()",
    ),
    "patches_the_worker_to_claim_success": (
        "import sys\nmain = sys.modules['__main__']\n"
        "main._send = lambda message: main._write("
        "main._dumps({**message, 'value': ['str', 'PASS']}) + '\\n') or main._flush()\n"
        "import builtins\nbuiltins.eval = lambda *a, **k: 'PASS'\n"
        "def double(x):\n    return 'PASS'\n",
        "got 'PASS'",
    ),
    "reads_the_harness_plan": (
        "import os\n"
        "def _steal():\n"
        "    found = []\n"
        "    ppid = os.getppid()\n"
        "    for path in ['_tests.json', f'/proc/{ppid}/environ', f'/proc/{ppid}/mem']:\n"
        "        try:\n"
        "            found.append(open(path, 'rb').read(100))\n"
        "        except OSError as exc:\n"
        "            found.append(type(exc).__name__)\n"
        "    try:\n"
        "        found.append(os.listdir(f'/proc/{ppid}/fd'))\n"
        "    except OSError as exc:\n"
        "        found.append(type(exc).__name__)\n"
        "    return found\n"
        "def double(x):\n    return _steal()\n",
        "PermissionError",
    ),
    "defines_nothing": ("x = 1\n", "defines no function named 'double'"),
}


async def _run(source: str, tmp_path: Path) -> Execution:
    config = AutorustConfig(home=str(tmp_path / ".autorust"))
    return await run_tests(SPEC, SPEC.tests, source, config, tmp_path / "artifacts")


@pytest.mark.parametrize("name", sorted(ADVERSARIES))
async def test_adversarial_program_cannot_pass(name: str, tmp_path: Path) -> None:
    source, reason = ADVERSARIES[name]
    execution = await _run(source, tmp_path)
    assert [t.name for t in execution.tests] == ["one", "seven"]
    assert not any(t.passed for t in execution.tests), execution.tests
    # what the coder is told about each test
    feedback = [describe_test(t) for t in execution.tests]
    assert all(reason in line for line in feedback), feedback


async def test_the_plan_is_not_readable_by_the_code(tmp_path: Path) -> None:
    execution = await _run(ADVERSARIES["reads_the_harness_plan"][0], tmp_path)
    actual = execution.tests[0].actual or ""
    # no plan file, and the harness's environment, memory and fds are closed to it
    assert actual.count("Error") == 4 and "expected" not in actual, actual


async def test_an_honest_program_passes_and_a_hung_call_fails_alone(tmp_path: Path) -> None:
    honest = await _run("def double(x):\n    return 2 * x\n", tmp_path)
    assert [t.passed for t in honest.tests] == [True, True] and honest.harness_ok
    hangs_on_one = await _run(
        "def double(x):\n    while x == 1:\n        pass\n    return 2 * x\n", tmp_path
    )
    first, second = hangs_on_one.tests
    assert not first.passed and "timed out" in (first.error or "")
    assert second.passed  # a fresh process answered the next test


async def test_a_sandbox_limit_is_named_to_the_coder(tmp_path: Path) -> None:
    """The sandbox's limits (issue #14) reach the feedback, not only a bare failure."""
    from autorust.nodes.checker import hard_failures

    filler = (
        "def double(x):\n"
        "    with open('/tmp/fill', 'wb') as handle:\n"
        "        handle.write(b'x' * (200 * 1024 * 1024))\n"
        "    return 2 * x\n"
    )
    execution = await _run(filler, tmp_path)
    assert not any(t.passed for t in execution.tests)
    assert any("disk quota exceeded" in limit for limit in execution.limits_hit)
    assert any(f.startswith("sandbox limit: disk quota exceeded") for f in hard_failures(execution))
