"""Wrong programs cannot pass, correct ones cannot fail: the forging classes (issue 21).

A table of hostile programs, each a sample of a class: builtin shadowing, dunder overrides,
introspection of the harness (frames, gc, sys.modules, /proc, the worker's globals, signals),
type confusion, output-channel tricks and timing. Every program is wrong for its spec and runs
in the real sandbox through the real harness; none may pass every test. Beside them, correct
programs written in unusual but legitimate ways (numpy scalars, namedtuples, OrderedDicts,
CRLF output) must pass: no test-format rule may fail correct code.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Spec, TestCase
from autorust.nodes.support.execution import run_tests

pytestmark = pytest.mark.bwrap


def _function(name: str, *tests: tuple[str, str]) -> Spec:
    return Spec(
        title=name, description=name, function_name=name,
        tests=[TestCase(name=f"t{i}", call=c, expected=e) for i, (c, e) in enumerate(tests)],
    )  # fmt: skip


def _stdio(*pairs: tuple[str, str]) -> Spec:
    return Spec(
        title="stdio", description="stdio", interface="stdio",
        tests=[TestCase(name=f"t{i}", stdin=i_, expected_stdout=o) for i, (i_, o) in
               enumerate(pairs)],
    )  # fmt: skip


SPECS = {
    "double": _function("double", ("double(1)", "2"), ("double(7)", "14"), ("double(-3)", "-6")),
    "area": _function("area", ("area(1)", repr(math.pi)), ("area(2)", repr(4 * math.pi))),
    "is_even": _function("is_even", ("is_even(2)", "True"), ("is_even(3)", "False")),
    "evens": _function("evens", ("evens([1, 2, 3, 4])", "[False, True, False, True]")),
    "fact": _function("fact", ("fact(25)", str(math.factorial(25))), ("fact(3)", "6")),
    "pairs": _function("pairs", ("pairs(2)", "[(0, 1), (1, 2)]")),
    "keyed": _function("keyed", ("keyed(1)", "{1: 'one'}")),
    "unique": _function("unique", ("unique([1, 1, 2])", "[1, 2]")),
    "frozen": _function("frozen", ("frozen([1, 2])", "frozenset({1, 2})")),
    "text": _function("text", ("text(14)", "'14'")),
    "sums": _stdio(("1 2\n3 4\n", "3\n7\n")),
    "indented": _stdio(("", "  a\n b\n")),
}

HOSTILE: dict[str, tuple[str, str]] = {
    # builtin shadowing: the tests used to be evaluated in the solution's namespace
    "shadows_abs_round_isinstance_len": (
        "area",
        (
            "def abs(x): return 0\ndef round(x, n=0): return 3.141592653589793\n"
            "def isinstance(*a): return True\ndef len(x): return 1\n"
            "def area(r): return 0.0\n"
        ),
    ),
    "patches_builtins_module": (
        "area",
        (
            "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.round = lambda *a: 0\n"
            "builtins.isinstance = lambda *a: True\ndef area(r): return 0.0\n"
        ),
    ),
    "patches_operator_eq": (
        "double",
        ("import operator\noperator.eq = lambda a, b: True\ndef double(x): return 0\n"),
    ),
    "patches_math_isclose": (
        "area",
        ("import math\nmath.isclose = lambda *a, **k: True\ndef area(r): return 0.0\n"),
    ),
    "patches_json_dumps": (
        "double",
        (
            'import json\njson.dumps = lambda *a, **k: \'{"id": 0, "value": ["int", "2"]}\'\n'
            "def double(x): return 0\n"
        ),
    ),
    "patches_the_workers_encoder": (
        "double",
        (
            "import sys\nm = sys.modules['__main__']\nm._encode = lambda v, d=0: ['int', '2']\n"
            "def double(x): return 0\n"
        ),
    ),
    "defines_eval_and_exec": (
        "double",
        (
            "def eval(*a, **k): return True\ndef exec(*a, **k): return None\n"
            "def double(x): return 0\n"
        ),
    ),
    # dunder overrides: an object that claims to be the answer
    "object_equal_to_everything": (
        "double",
        (
            "class A:\n    def __eq__(self, o): return True\n"
            "    def __ne__(self, o): return False\n"
            "    __hash__ = object.__hash__\n    def __repr__(self): return '14'\n"
            "def double(x): return A()\n"
        ),
    ),
    "int_subclass_equal_to_everything": (
        "double",
        (
            "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
            "def double(x): return I(0)\n"
        ),
    ),
    "float_subclass_equal_to_everything": (
        "area",
        (
            "class F(float):\n    def __eq__(self, o): return True\n    __hash__ = float.__hash__\n"
            "def area(r): return F(0.0)\n"
        ),
    ),
    "str_subclass_equal_to_everything": (
        "text",
        (
            "class S(str):\n    def __eq__(self, o): return True\n    __hash__ = str.__hash__\n"
            "def text(n): return S('wrong')\n"
        ),
    ),
    "list_subclass_equal_to_everything": (
        "unique",
        ("class L(list):\n    def __eq__(self, o): return True\ndef unique(xs): return L([9])\n"),
    ),
    "spoofs_its_class": (
        "double",
        (
            "class Fake:\n    @property\n    def __class__(self): return int\n"
            "    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
            "def double(x): return Fake()\n"
        ),
    ),
    "repr_that_prints_the_answer": (
        "text",
        (
            "class R:\n    def __repr__(self): return \"'14'\"\n"
            "    def __str__(self): return '14'\n"
            "def text(n): return R()\n"
        ),
    ),
    "getattribute_that_raises": (
        "double",
        (
            "class G:\n    def __getattribute__(self, name): raise RuntimeError('no')\n"
            "def double(x): return G()\n"
        ),
    ),
    "tolist_that_lies_lazily": (
        "double",
        ("class T:\n    def tolist(self): return T()\ndef double(x): return T()\n"),
    ),
    "self_referencing_list": (
        "unique",
        ("def unique(xs):\n    out = [1]\n    out.append(out)\n    return out\n"),
    ),
    "huge_integer": ("fact", ("def fact(n): return 10 ** 20000\n")),
    "returns_a_generator": ("unique", ("def unique(xs): return (x for x in dict.fromkeys(xs))\n")),
    "bool_subclass_trick_via_int": (
        "is_even",
        (
            "class B(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
            "def is_even(n): return B(n % 2 == 0)\n"
        ),
    ),
    # introspection of the harness
    "walks_frames_for_the_expected_value": (
        "double",
        (
            "import sys\n"
            "def double(x):\n    f = sys._getframe()\n    found = []\n"
            "    while f is not None:\n        found += [v for v in f.f_locals.values() if"
            " isinstance(v, int) and v != x]\n        f = f.f_back\n"
            "    return max(found, default=0)\n"
        ),
    ),
    "scans_gc_for_the_expected_value": (
        "double",
        (
            "import gc\n"
            "def double(x):\n    ints = [o for o in gc.get_objects() if isinstance(o, dict)"
            " and 'expected' in o]\n    return ints[0]['expected'] if ints else -1\n"
        ),
    ),
    "reads_the_workers_request": (
        "double",
        (
            "import sys\n"
            "def double(x):\n    request = sys.modules['__main__'].__dict__.get('_request', {})\n"
            "    return request.get('expected', request.get('call', x))\n"
        ),
    ),
    "reads_the_parent_through_proc": (
        "double",
        (
            "import os\n"
            "def double(x):\n    out = []\n"
            "    for p in ('cmdline', 'environ', 'mem', 'fd/0', 'stat'):\n        try:\n"
            "            out.append(open(f'/proc/{os.getppid()}/{p}', 'rb').read(64))\n"
            "        except OSError as exc:\n            out.append(type(exc).__name__)\n"
            "    return str(out)\n"
        ),
    ),
    "ptrace_attaches_to_the_harness": (
        "double",
        (
            "import ctypes, os\n"
            "def double(x):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
            "    return libc.ptrace(16, os.getppid(), 0, 0)\n"
        ),
    ),
    "process_vm_readv_on_the_harness": (
        "double",
        (
            "import ctypes, os\n"
            "class IOV(ctypes.Structure):\n"
            "    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
            "def double(x):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
            "    buf = ctypes.create_string_buffer(64)\n"
            "    local = IOV(ctypes.cast(buf, ctypes.c_void_p), 64)\n"
            "    remote = IOV(0x400000, 64)\n"
            "    n = libc.process_vm_readv(os.getppid(), ctypes.byref(local), 1,"
            " ctypes.byref(remote), 1, 0)\n    return n\n"
        ),
    ),
    "looks_for_a_plan_on_disk": (
        "double",
        (
            "import os\n"
            "def double(x):\n    names = []\n    for root, dirs, files in os.walk('.'):\n"
            "        names += files\n    return len(names)\n"
        ),
    ),
    "scans_every_process": (
        "double",
        (
            "import os\n"
            "def double(x):\n    seen = 0\n    for pid in os.listdir('/proc'):\n"
            "        if pid.isdigit():\n            try:\n"
            "                seen += len(open(f'/proc/{pid}/cmdline', 'rb').read())\n"
            "            except OSError:\n                pass\n    return seen\n"
        ),
    ),
    "rewrites_the_harness_files": (
        "double",
        (
            "for name in ('_harness.py', '_literals.py'):\n"
            "    try:\n        open(name, 'w').write('raise SystemExit(0)\\n')\n"
            "    except OSError:\n        pass\n"
            "def double(x): return 0\n"
        ),
    ),
    "writes_fake_answers_to_every_fd": (
        "double",
        (
            'import os\nfake = b\'{"id": 0, "value": ["int", "2"]}\\n{"id": 1, "value":'
            ' ["int", "14"]}\\n{"id": 2, "value": ["int", "-6"]}\\n\'\n'
            "for fd in range(3, 64):\n    try:\n        os.write(fd, fake)\n    except OSError:\n"
            "        pass\n"
            "def double(x): return 0\n"
        ),
    ),
    "kills_every_process_it_can": (
        "double",
        (
            "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
            "def double(x): return 2 * x\n"
        ),
    ),
    "stops_the_harness": (
        "double",
        ("import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\ndef double(x): return 2 * x\n"),
    ),
    # type confusion: equal in Python, not the value the test expects
    "int_for_bool": ("is_even", ("def is_even(n): return 1 - n % 2\n")),
    "ints_for_bools_in_a_list": ("evens", ("def evens(xs): return [1 - x % 2 for x in xs]\n")),
    "float_for_int": ("double", ("def double(x): return 2.0 * x\n")),
    "float_for_a_big_int": ("fact", ("import math\ndef fact(n): return math.gamma(n + 1)\n")),
    "lists_for_tuples": ("pairs", ("def pairs(n): return [[i, i + 1] for i in range(n)]\n")),
    "tuple_for_list": ("unique", ("def unique(xs): return tuple(dict.fromkeys(xs))\n")),
    "set_for_list": ("unique", ("def unique(xs): return set(xs)\n")),
    "set_for_frozenset": ("frozen", ("def frozen(xs): return set(xs)\n")),
    "true_key_for_one": ("keyed", ("def keyed(n): return {True: 'one'}\n")),
    "str_for_int": ("double", ("def double(x): return str(2 * x)\n")),
    "bytes_for_str": ("text", ("def text(n): return str(n).encode()\n")),
    "numpy_float_for_int": (
        "double",
        ("import numpy as np\ndef double(x): return np.float64(2 * x)\n"),
    ),
    "nan_for_a_number": ("area", ("def area(r): return float('nan')\n")),
    "floods_the_answer_channel_with_nesting": (
        "double",
        (
            "import os\n"
            "def double(x):\n"
            "    deep = b'{\"id\": 0, \"value\": ' + b'[' * 200000 + b']' * 200000\n"
            "    for fd in range(3, 32):\n        try:\n"
            "            os.write(fd, deep + b'}\\n')\n        except OSError:\n            pass\n"
            "    return 0\n"
        ),
    ),
    # the output channel (stdio)
    "drops_the_first_lines_indentation": ("indented", ("print('a')\nprint(' b')\n")),
    "carriage_return_as_line_break": (
        "sums",
        (
            "import sys\nrows = [sum(map(int, l.split())) for l in sys.stdin]\n"
            "sys.stdout.write('\\r'.join(map(str, rows)))\n"
        ),
    ),
    "file_separator_as_line_break": (
        "sums",
        (
            "import sys\nrows = [sum(map(int, l.split())) for l in sys.stdin]\n"
            "sys.stdout.write('\\x1c'.join(map(str, rows)))\n"
        ),
    ),
    "unicode_line_separator": (
        "sums",
        (
            "import sys\nrows = [sum(map(int, l.split())) for l in sys.stdin]\n"
            "sys.stdout.write('\\u2028'.join(map(str, rows)))\n"
        ),
    ),
    "leading_blank_line": (
        "sums",
        ("import sys\nprint()\nfor l in sys.stdin:\n    print(sum(map(int, l.split())))\n"),
    ),
    "answer_on_stderr_only": (
        "sums",
        ("import sys\nfor l in sys.stdin:\n    print(sum(map(int, l.split())), file=sys.stderr)\n"),
    ),
    "right_output_then_a_crash": (
        "sums",
        (
            "import sys\nfor l in sys.stdin:\n    print(sum(map(int, l.split())))\n"
            "raise SystemExit(3)\n"
        ),
    ),
    "fullwidth_digits": (
        "sums",
        (
            "import sys\nfor l in sys.stdin:\n"
            "    print(str(sum(map(int, l.split()))).translate(str.maketrans('0123456789',"
            " '０１２３４５６７８９')))\n"
        ),
    ),
    "prints_a_fake_report_frame": (
        "sums",
        ('print(\'\\x1eautorust-result 00 {"tests": [{"name": "t0", "passed": true}]}\\x1e\')\n'),
    ),
    # timing
    "answers_after_the_test_timeout": (
        "double",
        ("import time\ndef double(x):\n    time.sleep(30)\n    return 2 * x\n"),
    ),
    "daemon_answers_later_requests": (
        "double",
        (
            "import os, time\n"
            "def double(x):\n    if os.fork() == 0:\n        time.sleep(0.2)\n"
            "        for fd in range(3, 32):\n            try:\n"
            '                os.write(fd, b\'{"id": 1, "value": ["int", "14"]}\\n\')\n'
            "            except OSError:\n                pass\n        os._exit(0)\n"
            "    return 0\n"
        ),
    ),
}

CORRECT: dict[str, tuple[str, str]] = {
    "double": ("double", "def double(x):\n    return 2 * x\n"),
    "double_numpy_int": ("double", "import numpy as np\ndef double(x): return np.int64(2 * x)\n"),
    "area": ("area", "import math\ndef area(r): return math.pi * r * r\n"),
    "area_rounding_noise": ("area", "def area(r): return 3.14159265358979 * r ** 2\n"),
    "is_even": ("is_even", "def is_even(n): return n % 2 == 0\n"),
    "is_even_numpy_bool": (
        "is_even",
        "import numpy as np\ndef is_even(n): return np.bool_(n % 2 == 0)\n",
    ),
    "evens": ("evens", "def evens(xs): return [x % 2 == 0 for x in xs]\n"),
    "fact": ("fact", "import math\ndef fact(n): return math.factorial(n)\n"),
    "pairs_namedtuples": (
        "pairs",
        (
            "from collections import namedtuple\nP = namedtuple('P', 'a b')\n"
            "def pairs(n): return [P(i, i + 1) for i in range(n)]\n"
        ),
    ),
    "keyed_ordered_dict": (
        "keyed",
        ("from collections import OrderedDict\ndef keyed(n): return OrderedDict({n: 'one'})\n"),
    ),
    "unique": ("unique", "def unique(xs): return list(dict.fromkeys(xs))\n"),
    "frozen": ("frozen", "def frozen(xs): return frozenset(xs)\n"),
    "text": ("text", "def text(n): return str(n)\n"),
    "sums": ("sums", "import sys\nfor l in sys.stdin:\n    print(sum(map(int, l.split())))\n"),
    "sums_crlf_and_trailing_spaces": (
        "sums",
        (
            "import sys\nrows = [sum(map(int, l.split())) for l in sys.stdin]\n"
            "sys.stdout.write(''.join(f'{r}  \\r\\n' for r in rows) + '\\n\\n')\n"
        ),
    ),
    "sums_without_final_newline": (
        "sums",
        (
            "import sys\nrows = [sum(map(int, l.split())) for l in sys.stdin]\n"
            "sys.stdout.write('\\n'.join(map(str, rows)))\n"
        ),
    ),
    "indented": ("indented", "print('  a')\nprint(' b')\n"),
}


def _config(tmp_path: Path) -> AutorustConfig:
    return AutorustConfig(home=str(tmp_path / ".autorust"), executor={"limits": {"timeout_s": 6}})


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_a_wrong_program_never_passes(name: str, tmp_path: Path) -> None:
    spec_key, source = HOSTILE[name]
    spec = SPECS[spec_key]
    execution = await run_tests(spec, spec.tests, source, _config(tmp_path), tmp_path / "a")
    assert [t.name for t in execution.tests] == [t.name for t in spec.tests]
    assert not all(t.passed for t in execution.tests), execution.tests


@pytest.mark.parametrize("name", sorted(CORRECT))
async def test_correct_code_passes_however_it_is_written(name: str, tmp_path: Path) -> None:
    spec_key, source = CORRECT[name]
    spec = SPECS[spec_key]
    execution = await run_tests(spec, spec.tests, source, _config(tmp_path), tmp_path / "a")
    assert all(t.passed for t in execution.tests), execution.tests


# Tests written as expressions (the form older specs and reviewers used): the harness evaluated
# them in the solution's namespace, so shadowed builtins, objects equal to everything and a
# solution reading the call from the worker's globals passed them. They are not tests now.
EXPRESSION_TESTS = {
    "wrapped_in_shadowed_builtins": (
        _function("area", ("abs(area(1) - 3.14159) < 0.001", "True"),
                  ("round(area(2), 2)", "12.57"), ("isinstance(area(1), float)", "True"),
                  ("len(str(area(1))) > 3", "True")),
        "def abs(x): return 0\ndef round(x, n=0): return 12.57\n"
        "def isinstance(*a): return True\ndef len(x): return 9\ndef area(r): return 0.0\n",
    ),
    "comparison_with_an_object_equal_to_everything": (
        _function("double", ("double(1) == 2", "True"), ("double(5) == 10", "True")),
        "class A:\n    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
        "def double(x): return A()\n",
    ),
    "answers_the_right_hand_side_it_reads": (
        _function("add", ("add(1, 2) == 3", "True"), ("add(2, 2) == 4", "True")),
        "import sys\n"
        "def add(a, b):\n    call = sys.modules['__main__'].__dict__.get('_request', {})"
        ".get('call', '')\n    return int(call.split('==')[1]) if '==' in call else 0\n",
    ),
    "tautology": (
        _function("double", ("double(1) == double(1)", "True"), ("(double(7), 14)[1]", "14")),
        "def double(x): return 'wrong'\n",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPRESSION_TESTS))
async def test_expression_tests_are_not_evaluated(name: str, tmp_path: Path) -> None:
    spec, source = EXPRESSION_TESTS[name]
    execution = await run_tests(spec, spec.tests, source, _config(tmp_path), tmp_path / "a")
    assert not any(t.passed for t in execution.tests), execution.tests
    assert all("not a valid test" in (t.error or "") for t in execution.tests)


def test_the_table_covers_every_class_with_enough_samples() -> None:
    assert len(HOSTILE) >= 40
    assert {spec for spec, _ in HOSTILE.values()} == set(SPECS)
    assert {spec for spec, _ in CORRECT.values()} == set(SPECS)


async def test_the_harness_never_meets_a_test_the_validator_rejects(tmp_path: Path) -> None:
    """A spec restored from an older checkpoint may hold expression tests: they fail on the
    host with the validator's reason; the valid ones still run."""
    spec = _function("double", ("double(2)", "4"), ("double(1) == 2", "True"))
    source = "def double(x):\n    return 2 * x\n"
    execution = await run_tests(spec, spec.tests, source, _config(tmp_path), tmp_path / "a")
    assert [t.passed for t in execution.tests] == [True, False]
    assert "not a valid test" in (execution.tests[1].error or "")
    assert "nothing else" in (execution.tests[1].error or "")
