"""The evidence rule: the one validator for every source of tests.

A verdict rests on executed evidence only, so a spec is *verifiable* when:
- program, interface ``function``: a function name and at least one test, each a data test in
  the grammar of ``sandbox/literals.py``: ``call`` is exactly ``<function_name>(<literal
  arguments>)`` and ``expected`` a literal (no expressions, no calls of the function, nothing
  evaluated); not every expected value is ``None``;
- program, interface ``stdio``: at least one input/output pair, not all expecting no output;
- figure (interface ``figure``): the input image itself is the evidence (render-and-compare),
  no tests are needed.
Test names are unique (they join results and rulings), sizes are bounded. The vision spec,
the OCR-built spec, reviewer counterexamples and dispute corrections all pass through
``evidence_problems``; the harness never meets a test it would reject. Each problem is one
sentence, phrased for the test's author.
"""

from __future__ import annotations

import keyword

from autorust.graph.state import ProposedTest, Spec, TestCase
from autorust.sandbox.literals import GrammarError, normalise_stdout, parse_call, parse_literal

MAX_TESTS = 50
MAX_NAME = 80
MAX_STDIO_CHARS = 64_000


def _function_test_problems(test: TestCase, function_name: str) -> tuple[list[str], object]:
    """The test's problems, and its expected value (when it parsed)."""
    if test.call is None or test.expected is None:
        return [f"test {test.name!r} is not a function test (it needs call and expected)"], None
    problems = []
    try:
        parse_call(test.call, function_name)
    except GrammarError as exc:
        problems.append(f"test {test.name!r}: {exc} (call is {test.call[:200]!r})")
    value = None
    try:
        value = parse_literal(test.expected, "the expected value")
    except GrammarError as exc:
        problems.append(
            f"test {test.name!r}: expected must be a literal value computed by you, e.g. 15 "
            f"rather than sum([7, 8]): {exc} (expected is {test.expected[:200]!r})"
        )
    return problems, value


def _stdio_test_problems(test: TestCase) -> list[str]:
    if test.expected_stdout is None or test.call is not None:
        return [f"test {test.name!r} is not a stdio test (it needs stdin and expected_stdout)"]
    if len(test.expected_stdout) + len(test.stdin or "") > MAX_STDIO_CHARS:
        return [f"test {test.name!r} is longer than {MAX_STDIO_CHARS:,} characters"]
    return []


def _name_problems(tests: list[TestCase]) -> list[str]:
    problems = []
    if len(tests) > MAX_TESTS:
        problems.append(f"{len(tests)} tests: write at most {MAX_TESTS}")
    seen: set[str] = set()
    for test in tests:
        if not test.name.strip() or len(test.name) > MAX_NAME or not test.name.isprintable():
            problems.append(f"test name {test.name[:40]!r}: 1-{MAX_NAME} printable characters")
        elif test.name in seen:
            problems.append(f"two tests are named {test.name!r}: give each test its own name")
        seen.add(test.name)
    return problems


def _function_spec_problems(spec: Spec) -> list[str]:
    name = spec.function_name or ""
    if not name.isidentifier() or keyword.iskeyword(name):
        return [f"a function task needs function_name, a Python identifier (got {name!r})"]
    if not spec.tests:
        return [
            f"no tests: write at least one test calling {name}() with the expected result, "
            "taken from the examples in the image"
        ]
    problems: list[str] = []
    values = []
    for test in spec.tests:
        test_problems, value = _function_test_problems(test, name)
        problems += test_problems
        values.append(value)
    if not problems and all(value is None for value in values):
        problems.append(
            "every test expects None, so the tests check nothing the function returns: take "
            "expected values from the image"
        )
    return problems


def _stdio_spec_problems(spec: Spec) -> list[str]:
    if not any(t.expected_stdout is not None for t in spec.tests):
        return [
            "a stdio program needs at least one test with stdin and expected_stdout, "
            "taken from the examples in the image"
        ]
    problems = [problem for t in spec.tests for problem in _stdio_test_problems(t)]
    if not problems and not any(normalise_stdout(t.expected_stdout or "") for t in spec.tests):
        problems.append(
            "every test expects empty output, so the tests check nothing the program prints: "
            "take the expected output from the image"
        )
    return problems


def evidence_problems(spec: Spec) -> list[str]:
    """Why code could not be verified against ``spec`` (empty: it can be)."""
    if spec.kind == "figure" or spec.interface == "figure":
        if spec.kind != "figure" or spec.interface != "figure":
            return [
                "a figure task needs kind 'figure' and interface 'figure' together "
                f"(got kind {spec.kind!r}, interface {spec.interface!r})"
            ]
        return []
    problems = _name_problems(spec.tests)
    if spec.interface == "stdio":
        return problems + _stdio_spec_problems(spec)
    return problems + _function_spec_problems(spec)


def problems_of_test(test: TestCase, spec: Spec) -> list[str]:
    """One test judged alone against ``spec``'s interface (a counterexample, a corrected
    test): the same grammar and bounds, without the whole-spec rules."""
    if spec.interface == "stdio":
        return _stdio_test_problems(test)
    name = spec.function_name or ""
    if not name.isidentifier() or keyword.iskeyword(name):
        return [f"the spec has no valid function_name (got {name!r})"]
    return _name_problems([test]) + _function_test_problems(test, name)[0]


def as_test(proposal: ProposedTest, spec: Spec, index: int) -> TestCase | str:
    """A reviewer's proposal as a reviewer test in the spec's interface, or why it is not one."""
    name = f"reviewer_{index}_{proposal.name}"[:MAX_NAME]
    if name in {t.name for t in spec.tests}:
        name = f"reviewer_{index}_{len(spec.tests)}"
    try:
        if spec.interface == "stdio":
            test = TestCase(
                name=name,
                stdin=proposal.stdin or "",
                expected_stdout=proposal.expected_stdout,
                source="reviewer",
            )
        else:
            test = TestCase(
                name=name, call=proposal.call, expected=proposal.expected, source="reviewer"
            )
    except ValueError:
        return f"not a {spec.interface} test (missing call/expected or expected_stdout)"
    if problems := problems_of_test(test, spec):
        return problems[0]
    if (test.call, test.stdin) in {(t.call, t.stdin) for t in spec.tests}:
        return "the spec already has a test with this input"
    return test
