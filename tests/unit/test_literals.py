"""The test grammar and the comparison, as properties (issue 21).

Generated literals survive text -> value -> canonical tree -> JSON -> checked tree unchanged and
compare equal to themselves; every type confusion compares unequal; generated hostile specs
(expressions, self-reference, tautologies, huge or deep literals) are rejected with a reason and
never raise; untrusted answer trees are either checked or rejected, never anything else.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autorust.graph.state import Spec, TestCase
from autorust.nodes.support.evidence import evidence_problems
from autorust.sandbox.literals import (
    GrammarError,
    canonical,
    checked,
    equal,
    normalise_stdout,
    parse_call,
    parse_literal,
    render,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hashable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
values = st.recursive(
    hashable | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.sets(hashable, max_size=3)
        | st.dictionaries(hashable, inner, max_size=3)
    ),
    max_leaves=12,
)


def _text(value: object) -> str:
    return render(canonical(value), limit=10**6)


@FAST
@given(values)
def test_a_literal_round_trips_through_text_and_json(value: object) -> None:
    tree = canonical(value)
    parsed = canonical(parse_literal(_text(value)))
    assert equal(parsed, tree) and equal(tree, parsed)
    assert equal(checked(json.loads(json.dumps(tree))), tree)


def _confused(value: object) -> object | None:
    """The same data as another type (bool/int/float are equal in Python), or None."""
    if type(value) is bool:
        return int(value)
    if type(value) is int:
        return float(value) if abs(value) < 2**53 else None
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is list:
        return tuple(value)
    if type(value) is tuple:
        return list(value)
    if type(value) is set:
        return frozenset(value)
    return None


@FAST
@given(values)
def test_type_confusion_never_compares_equal(value: object) -> None:
    other = _confused(value)
    if other is not None:
        assert not equal(canonical(other), canonical(value))


def test_the_comparison_rules() -> None:
    assert equal(canonical(0.1 + 0.2), canonical(0.3))  # rounding noise
    assert not equal(canonical(0.31), canonical(0.3))
    assert equal(canonical(0.31), canonical(0.3), tolerance=0.02)  # stated by the spec
    assert equal(canonical(float("nan")), canonical(float("nan")))
    assert not equal(canonical(float("inf")), canonical(1e308))
    assert not equal(canonical({True: "a"}), canonical({1: "a"}))
    assert not equal(canonical([1, True]), canonical([1, 1]))
    assert equal(canonical({"b": 1, "a": 2}), canonical({"a": 2, "b": 1}))
    assert equal(canonical({3, 1, 2}), canonical({1, 2, 3}))
    assert not equal(["opaque", "A", "2"], canonical(2))


def test_the_stdout_normalisation_is_trailing_whitespace_only() -> None:
    assert normalise_stdout("a  \r\nb\t\n\n\n") == "a\nb"
    assert normalise_stdout("  a\n") != normalise_stdout("a\n")
    assert normalise_stdout("\na") != normalise_stdout("a")
    for separator in ("\r", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x0b"):
        assert normalise_stdout(f"1{separator}2") != normalise_stdout("1\n2"), repr(separator)


def _spec(call: str, expected: str) -> Spec:
    return Spec(
        title="t", description="d", function_name="f",
        tests=[TestCase(name="t", call=call, expected=expected)],
    )  # fmt: skip


names = st.sampled_from(["f", "g", "len", "abs", "print", "__import__", "eval", "x"])
atoms = names | st.integers(-5, 5).map(str) | st.sampled_from(["'s'", "None", "True", "1.5"])


def _expressions(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    call = st.builds(lambda n, a: f"{n}({a})", names, inner)
    return (
        call
        | st.builds(lambda a, b: f"{a} == {b}", inner, inner)
        | st.builds(lambda a, b, op: f"({a}) {op} ({b})", inner, inner,
                    st.sampled_from(["+", "-", "*", "/", "**", "%", "and", "or", "<"]))
        | st.builds(lambda a, b: f"({a}, {b})[1]", inner, inner)
        | st.builds(lambda a: f"{a}.real", inner)
        | st.builds(lambda a: f"[x for x in {a}]", inner)
        | st.builds(lambda a: f"(lambda: {a})()", inner)
        | st.builds(lambda a: f"f'{{{a}}}'", inner)
        | st.builds(lambda a: f"(y := {a})", inner)
        | st.builds(lambda a: f"f(*{a})", inner)
        | st.builds(lambda a: f"not {a}", inner)
    )  # fmt: skip


hostile = st.recursive(atoms, _expressions, max_leaves=6).filter(lambda text: "(" in text)
HUGE = [
    "10 ** 10 ** 10", "'a' * 10 ** 9", "bytes(10 ** 9)", "bytes(1000000000)",
    "[0] * 10 ** 9", "int('9' * 5000)", "9" * 5000, "[" * 60 + "]" * 60,
    "f(" * 500 + ")" * 500, "{" * 30 + "}" * 30, "(" * 100000 + "1" + ")" * 100000,
    "[" + "1, " * 30000 + "]", "f(" + ", ".join(["[1]"] * 25000) + ")",
]  # fmt: skip


@FAST
@given(hostile)
def test_a_generated_non_data_test_is_rejected_with_a_reason(text: str) -> None:
    for call, expected in ((text, "1"), ("f(1)", text)):
        try:
            if call != "f(1)":
                parse_call(call, "f")
            else:
                parse_literal(expected)
        except GrammarError:
            assert evidence_problems(_spec(call, expected))
            continue
        # only a plain call of f with literal arguments (or a literal) may get through
        assert call == "f(1)" or call.startswith("f(")


def test_huge_and_deep_texts_are_rejected_cheaply() -> None:
    for text in HUGE:
        assert evidence_problems(_spec("f(1)", text)), text[:40]
        assert evidence_problems(_spec(text if text.startswith("f(") else f"f({text})", "1")) or (
            text.startswith("f(") and text.count("(") < 30
        )


def test_self_reference_and_tautologies_are_rejected() -> None:
    for call, expected in [
        ("f(1) == f(1)", "True"), ("(f(7), 14)[1]", "14"), ("f(3)", "f(3)"),
        ("f(3)", "sum([1, 2])"), ("f(3) or True", "True"), ("f(x)", "1"), ("f(3)", "x"),
        ("f(**{'a': 1})", "1"), ("f(*[1])", "1"), ("g(1)", "1"), ("f(1).real", "1"),
    ]:  # fmt: skip
        assert evidence_problems(_spec(call, expected)), (call, expected)
    assert evidence_problems(_spec("f(1)", "None")) and not evidence_problems(_spec("f(1)", "0"))


@FAST
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
))  # fmt: skip
def test_an_untrusted_answer_is_checked_or_rejected(garbage: object) -> None:
    try:
        tree = checked(garbage)
    except GrammarError:
        return
    assert equal(tree, tree) or "nan" in json.dumps(tree) or tree[0] == "opaque"
    render(tree)


def test_the_harness_rejects_expression_tests_itself(tmp_path, monkeypatch) -> None:
    """Defence in depth: the in-sandbox harness applies the same grammar as the validator."""
    from autorust.sandbox.harness import run_function_tests

    (tmp_path / "solution.py").write_text(
        "class A:\n    def __eq__(self, o): return True\n    __hash__ = object.__hash__\n"
        "def double(x):\n    return A() if x == 1 else 2 * x\n"
    )
    monkeypatch.chdir(tmp_path)
    plan = {"function_name": "double", "per_test_timeout_s": 10, "tests": [
        {"name": "expr", "call": "double(1) == 2", "expected": "True"},
        {"name": "ok", "call": "double(2)", "expected": "4"},
        {"name": "forged", "call": "double(1)", "expected": "2"},
    ]}  # fmt: skip
    results, _ = run_function_tests(plan)
    assert [r["passed"] for r in results] == [False, True, False]
    assert "not a valid test" in results[0]["error"]
