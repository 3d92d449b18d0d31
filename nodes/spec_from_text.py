"""A spec skeleton from a task's text alone (OCR output), for runs without a vision model.

Recognised: a title line (``Exercise 3: Palindrome check`` -> ``Palindrome check``), example
lines ``f(args) -> result`` (function tests), and ``Input:`` / ``Output:`` blocks (a stdio test).
Everything else becomes the description. It is a skeleton: the coder and checker still do the
real work, and tests come only from examples written in the image.
"""

from __future__ import annotations

import ast
import re

from graph.state import Spec, TestCase

TITLE_PREFIX = re.compile(r"^(exercise|problem|task|question)\s*\d*\s*[:.\-]\s*", re.IGNORECASE)
EXAMPLE = re.compile(
    r"^\s*(?P<call>(?P<name>[A-Za-z_]\w*)\(.*\))\s*(?:->|=>|→|==)\s*(?P<expected>.+?)\s*$"
)
SECTION = re.compile(r"^\s*(input|output)\s*:\s*(.*)$", re.IGNORECASE)


def _python(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
        return True
    except SyntaxError:
        return False


def spec_from_text(text: str) -> Spec:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no text to build a spec from")
    title = TITLE_PREFIX.sub("", lines[0]) or lines[0]
    tests: list[TestCase] = []
    names: list[str] = []
    sections: dict[str, list[str]] = {}
    current: str | None = None
    prose: list[str] = []
    for line in lines[1:]:
        if (match := EXAMPLE.match(line)) and _python(match["call"]) and _python(match["expected"]):
            tests.append(
                TestCase(
                    name=f"example_{len(tests) + 1}", call=match["call"], expected=match["expected"]
                )
            )
            names.append(match["name"])
            continue
        if match := SECTION.match(line):
            current = match[1].lower()
            sections[current] = [match[2]] if match[2] else []
            continue
        if current is not None:
            sections[current].append(line)
        else:
            prose.append(line)
    interface = "function" if tests else "stdio"
    if not tests and "output" in sections:
        tests.append(
            TestCase(
                name="example_1",
                stdin="\n".join(sections.get("input", [])) + "\n",
                expected_stdout="\n".join(sections["output"]),
            )
        )
    return Spec(
        title=title,
        kind="program",
        interface=interface,
        function_name=max(set(names), key=names.count) if names else None,
        description=" ".join(prose) or title,
        constraints=["spec built from OCR text without a vision model: verify it"],
        tests=tests,
        ocr_text=text,
    )
