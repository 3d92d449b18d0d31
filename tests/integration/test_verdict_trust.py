"""Verdicts the code under test cannot forge, end to end (issue 21, cases 1, 4, 5, 6, 8).

Through the graph with scripted replies, the real sandbox and real SQLite checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autorust.graph.state import RunState, Spec, TestCase
from autorust.nodes.support.evidence import evidence_problems
from autorust.nodes.support.spec_from_text import spec_from_text
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from tests.support.scripted import EXAMPLES, scripted_task

pytestmark = pytest.mark.bwrap

DOUBLE = {
    "title": "Double", "kind": "program", "interface": "function", "function_name": "double",
    "description": "double(x) returns 2 * x",
    "tests": [{"name": "one", "call": "double(1)", "expected": "2"},
              {"name": "seven", "call": "double(7)", "expected": "14"}],
}  # fmt: skip
HARD_CODED = {
    "source": "def double(x):\n    return {1: 2, 7: 14}.get(x, 0)\n",
    "notes": "knows the spec's tests by heart",
}
CONFIRM_ALL = {"counterexamples": [{"id": "C1", "consistent": True}]}


async def _run(image: Path, config) -> RunState:
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(image, config, saver)
    assert result.state is not None
    return result.state


async def test_a_counterexample_written_as_a_comparison_goes_back_to_the_reviewer(
    tmp_path: Path,
) -> None:
    """Case 1: `double(5) == 10` counterexamples were evaluated in the solution's namespace and
    recorded 'passed by code'; a coder that hard-coded the spec's tests ended passed."""
    comparison = {
        "counterexamples": [
            {"name": "five", "call": "double(5) == 10", "expected": "True", "rationale": "2 * 5"}
        ]
    }
    data = {"counterexamples": [{"name": "five", "call": "double(5)", "expected": "10"}]}
    image, config = scripted_task(
        tmp_path, "double",
        {"vision": [DOUBLE], "coding": [HARD_CODED],
         "checker": [{"tries": [comparison, data]}], "vision_confirm": [CONFIRM_ALL]},
        max_iterations=1,
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "failed"
    checker = next(c for c in state.model_calls if c.agent == "checker")
    assert (
        "the call must be double(<literal arguments>) and nothing else"
        in (checker.regenerations[0])
    )
    assert [(r.test.call, r.outcome) for r in state.counterexamples] == [("double(5)", "confirmed")]


async def test_a_tautological_spec_goes_back_to_vision_then_ends_unverified(
    tmp_path: Path,
) -> None:
    """Case 4: `double(1) == double(1)` expecting True passed code returning 'wrong'."""
    tautology = {
        **DOUBLE,
        "tests": [
            {"name": "same", "call": "double(1) == double(1)", "expected": "True"},
            {"name": "index", "call": "(double(7), 14)[1]", "expected": "14"},
        ],
    }
    image, config = scripted_task(
        tmp_path, "double",
        {"vision": [tautology], "coding": [{"source": "def double(x):\n    return 'wrong'\n"}],
         "checker": [{}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "unverified" and not state.attempts
    vision = next(c for c in state.model_calls if c.agent == "vision")
    assert "nothing else" in vision.regenerations[0]


def test_ocr_text_with_tautologies_makes_no_tests() -> None:
    """Case 4 without a vision model: OCR lines in that form became a spec of tautologies."""
    spec = spec_from_text(
        "Exercise: double\ndouble(1) == double(1) -> True\n(double(7), 14)[1] -> 14\n"
        "double(2) -> double(1) + 2\n"
    )
    assert not [t for t in spec.tests if t.call is not None]
    assert evidence_problems(spec)
    honest = spec_from_text("Exercise: double\ndouble(1) -> 2\ndouble(7) -> 14\nlen([1]) -> 1\n")
    assert [t.call for t in honest.tests] == ["double(1)", "double(7)"]
    assert evidence_problems(honest) == []


async def test_an_expression_as_expected_value_goes_back_to_vision(tmp_path: Path) -> None:
    """Case 5: `expected: "double(3)"` or `sum([...])` was accepted, then failed correct code
    in the harness as 'not a literal'."""
    expression = {
        **DOUBLE,
        "tests": [
            {"name": "three", "call": "double(3)", "expected": "sum([3, 3])"},
            {"name": "self", "call": "double(4)", "expected": "double(4)"},
        ],
    }
    literal = {
        **DOUBLE,
        "tests": [
            {"name": "three", "call": "double(3)", "expected": "6"},
            {"name": "four", "call": "double(4)", "expected": "8"},
        ],
    }
    image, config = scripted_task(
        tmp_path, "double",
        {"vision": [expression, literal],
         "coding": [{"source": "def double(x):\n    return 2 * x\n"}], "checker": [{}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "passed"
    vision = next(c for c in state.model_calls if c.agent == "vision")
    assert "expected must be a literal value" in vision.regenerations[0]


@pytest.mark.parametrize(
    "bad_ruling",
    [
        {"counterexamples": [{"id": "century_1900", "consistent": True},
                             {"id": "C2", "consistent": True}]},
        {"counterexamples": [{"id": "C2", "consistent": True}]},
        {"counterexamples": [{"id": "C1", "consistent": True}, {"id": "C1", "consistent": False},
                             {"id": "C2", "consistent": True}]},
        {},
    ],
    ids=["renamed", "omitted", "repeated", "none"],
)  # fmt: skip
async def test_a_counterexample_without_its_ruling_is_asked_again(
    tmp_path: Path, bad_ruling: dict
) -> None:
    """Case 6: rulings were joined by name, fail-open: a ruling under another name (or none)
    turned a failed counterexample into 'rejected', and a wrong leap-year program passed."""
    import yaml

    replies = yaml.safe_load((EXAMPLES / "replies" / "leap_year.yaml").read_text())
    replies["checker"][0]["counterexamples"] = replies["checker"][0]["counterexamples"][:2]
    good = {"counterexamples": [{"id": "C1", "consistent": True}, {"id": "C2", "consistent": True}]}
    replies["vision_confirm"] = [{"tries": [bad_ruling, good]}]
    replies["coding"] = replies["coding"][:1]
    image, config = scripted_task(
        tmp_path, "leap_year", replies, image="leap_year", max_iterations=1
    )
    state = await _run(image, config)
    assert state.status == "failed"
    assert [r.outcome for r in state.counterexamples] == ["confirmed", "confirmed"]
    confirm = [c for c in state.model_calls if c.agent == "vision"][-1]
    assert (
        "give exactly one ruling" in confirm.regenerations[0] or "C1" in (confirm.regenerations[0])
    )


async def test_a_ruling_that_never_comes_is_an_error_not_a_pass(tmp_path: Path) -> None:
    import yaml

    replies = yaml.safe_load((EXAMPLES / "replies" / "leap_year.yaml").read_text())
    replies["vision_confirm"] = [{}]
    image, config = scripted_task(tmp_path, "leap_year", replies, image="leap_year")
    state = await _run(image, config)
    assert state.status == "error" and state.status != "passed"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_test_is_a_problem_for_its_author(depth: int) -> None:
    """Case 8: a 100,000-deep nested call raised MemoryError in the evidence rule on the host
    and ended the item in error."""
    call = "double(" * depth + "1" + ")" * depth
    literal = "[" * depth + "]" * depth
    spec = Spec(
        title="t", description="d", function_name="double",
        tests=[TestCase(name="deep", call=call, expected="2"),
               TestCase(name="wide", call="double(1)", expected=literal)],
    )  # fmt: skip
    problems = evidence_problems(spec)
    assert len(problems) == 2
    assert all(any(word in p for word in ("nested", "characters long")) for p in problems)
