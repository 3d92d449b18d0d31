"""A spec skeleton from a task's text alone (OCR output), for runs without a vision model.

Recognised: a title line (``Exercise 3: Palindrome check`` -> ``Palindrome check``), example
lines ``f(args) -> result`` (function tests), and ``Input:`` / ``Output:`` blocks (one stdio test
per pair; an ``Example 2:`` heading or the next ``Input:`` starts a new pair).
Everything else becomes the description. It is a skeleton: the coder and checker still do the
real work, and tests come only from examples written in the image.
"""

from __future__ import annotations

import re

from autorust.graph.state import Spec, TestCase
from autorust.sandbox.literals import GrammarError, parse_call, parse_literal

TITLE_PREFIX = re.compile(r"^(exercise|problem|task|question)\s*\d*\s*[:.\-]\s*", re.IGNORECASE)
EXAMPLE = re.compile(
    r"^\s*(?P<call>(?P<name>[A-Za-z_]\w*)\(.*\))\s*(?:->|=>|→|==)\s*(?P<expected>.+?)\s*$"
)
SECTION = re.compile(r"^\s*(input|output)\s*:\s*(.*)$", re.IGNORECASE)
EXAMPLE_HEADING = re.compile(r"^(examples?|sample)\s*\d*\s*:?$", re.IGNORECASE)


def _data_test(call: str, name: str, expected: str) -> bool:
    """Only example lines that are tests in the grammar (``sandbox/literals.py``) count:
    ``f(1) == f(1) -> True`` or ``f(2) -> f(1) + 1`` describe nothing executable."""
    try:
        parse_call(call, name)
        parse_literal(expected)
    except GrammarError:
        return False
    return True


def spec_from_text(text: str) -> Spec:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no text to build a spec from")
    title = TITLE_PREFIX.sub("", lines[0]) or lines[0]
    tests: list[TestCase] = []
    names: list[str] = []
    pairs: list[dict[str, list[str]]] = []  # one {"input": [...], "output": [...]} per example
    current: str | None = None
    prose: list[str] = []
    for line in lines[1:]:
        if (match := EXAMPLE.match(line)) and _data_test(
            match["call"], match["name"], match["expected"]
        ):
            tests.append(
                TestCase(
                    name=f"example_{len(tests) + 1}", call=match["call"], expected=match["expected"]
                )
            )
            names.append(match["name"])
            current = None
            continue
        if match := SECTION.match(line):
            current = match[1].lower()
            if not pairs or current in pairs[-1]:
                pairs.append({})
            pairs[-1][current] = [match[2]] if match[2] else []
            continue
        if current is not None and not EXAMPLE_HEADING.match(line):
            pairs[-1][current].append(line)
        else:
            current = None
            prose.append(line)
    if names:  # one function under test: the most named one; other lines are prose
        function_name = max(set(names), key=names.count)
        tests = [t for t, n in zip(tests, names, strict=True) if n == function_name]
    interface = "function" if tests else "stdio"
    if not tests:
        tests = [
            TestCase(
                name=f"example_{index}",
                stdin="\n".join(pair.get("input", [])) + "\n",
                expected_stdout="\n".join(pair["output"]),
            )
            for index, pair in enumerate((p for p in pairs if "output" in p), 1)
        ]
    return Spec(
        title=title,
        kind="program",
        interface=interface,
        function_name=function_name if names else None,
        description=" ".join(prose) or title,
        constraints=["spec built from OCR text without a vision model: verify it"],
        tests=tests,
        ocr_text=text,
    )


def figure_spec_from_text(text: str) -> Spec:
    """A chart to reproduce: judged by render-and-compare against the image itself."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title = lines[0] if lines else "Chart"
    return Spec(
        title=title,
        kind="figure",
        interface="figure",
        description=(
            "Reproduce the chart in the image with matplotlib and save it to output.png "
            "(same chart type, data, colours, title, axis labels and legend). Text read from "
            "the chart: " + " | ".join(lines[:40])
        ),
        outputs="output.png",
        constraints=["spec built from OCR text without a vision model: verify it"],
        ocr_text=text,
    )
