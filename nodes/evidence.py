"""The evidence rule: what a spec must contain before any code can be judged against it.

A verdict rests on executed evidence only. So a spec is *verifiable* when:
- program, interface ``function``: a function name, at least one test, and every test is a
  function test whose ``call`` calls that function and whose ``expected`` is a Python value;
- program, interface ``stdio``: at least one input/output pair;
- figure (interface ``figure``): the input image itself is the evidence (render-and-compare),
  no tests are needed.
``evidence_problems`` lists what is missing, one sentence each, phrased for the spec author.
"""

from __future__ import annotations

import ast
import keyword

from autorust.graph.state import Spec, TestCase


def _calls(expression: str, function_name: str) -> bool:
    """Whether the expression calls ``function_name`` (directly, anywhere inside it)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == function_name
        for node in ast.walk(tree)
    )


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def _function_test_problems(test: TestCase, function_name: str) -> list[str]:
    if test.call is None or test.expected is None:
        return [f"test {test.name!r} is not a function test (it needs call and expected)"]
    problems = []
    if not _calls(test.call, function_name):
        problems.append(
            f"test {test.name!r} does not call {function_name}(): call is {test.call!r}"
        )
    if not _is_expression(test.expected):
        problems.append(f"test {test.name!r}: expected {test.expected!r} is not a Python literal")
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
    if spec.interface == "stdio":
        pairs = [t for t in spec.tests if t.expected_stdout is not None]
        if not pairs:
            return [
                "a stdio program needs at least one test with stdin and expected_stdout, "
                "taken from the examples in the image"
            ]
        return [
            f"test {t.name!r} is not a stdio test (it needs expected_stdout)"
            for t in spec.tests
            if t.expected_stdout is None
        ]
    name = spec.function_name or ""
    if not name.isidentifier() or keyword.iskeyword(name):
        return [f"a function task needs function_name, a Python identifier (got {name!r})"]
    if not spec.tests:
        return [
            f"no tests: write at least one test calling {name}() with the expected result, "
            "taken from the examples in the image"
        ]
    return [problem for test in spec.tests for problem in _function_test_problems(test, name)]
