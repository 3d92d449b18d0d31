"""Verdicts rest on executed evidence (issue #12): end to end through the graph with scripted
replies, the real sandbox and real SQLite checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autorust.graph.state import RunState
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from tests.support.scripted import EXAMPLES, scripted_task

pytestmark = pytest.mark.bwrap

FIND_ZERO = {
    "title": "Find a zero",
    "kind": "program",
    "interface": "function",
    "function_name": "find_zero",
    "description": "Return a root of the polynomial.",
}
DOUBLE = {
    "title": "Double",
    "kind": "program",
    "interface": "function",
    "function_name": "double",
    "description": "double(x) returns 2 * x",
    "tests": [
        {"name": "one", "call": "double(1)", "expected": "2"},
        {"name": "seven", "call": "double(7)", "expected": "14"},
    ],
}
GOOD_DOUBLE = {"source": "def double(x):\n    return 2 * x\n"}


async def _run(image: Path, config) -> RunState:
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(image, config, saver)
    assert result.state is not None
    return result.state


async def test_a_spec_without_tests_is_asked_again_then_unverified(tmp_path: Path) -> None:
    """Cases 2 and 4: a function spec with no tests and a solution `x = 1` was `passed`."""
    image, config = scripted_task(
        tmp_path,
        "find_zero",
        {"vision": [{**FIND_ZERO, "tests": []}], "coding": [{"source": "x = 1\n"}],
         "checker": [{"passed": True, "score": 0.95}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "unverified" and state.verdict is None and not state.attempts
    assert "no executable evidence" in (state.error or "") and "find_zero" in (state.error or "")
    vision_calls = [c for c in state.model_calls if c.agent == "vision"]
    assert len(vision_calls) == config.max_regenerations + 1  # asked again, with the reason
    assert all("unverifiable spec" in c.regenerations[-1] for c in vision_calls)
    assert not [c for c in state.model_calls if c.agent == "coding"]  # no code was judged


async def test_a_second_spec_round_with_tests_proceeds(tmp_path: Path) -> None:
    image, config = scripted_task(
        tmp_path,
        "double",
        {"vision": [{**DOUBLE, "tests": []}, DOUBLE], "coding": [GOOD_DOUBLE], "checker": [{}]},
    )
    state = await _run(image, config)
    assert state.status == "passed" and len(state.spec.tests) == 2


async def test_a_program_that_defines_nothing_fails(tmp_path: Path) -> None:
    image, config = scripted_task(
        tmp_path,
        "find_zero",
        {"vision": [{**FIND_ZERO, "tests": [
            {"name": "linear", "call": "find_zero([1, -2])", "expected": "2.0"}]}],
         "coding": [{"source": "x = 1\n"}], "checker": [{"passed": True, "score": 0.95}]},
        max_iterations=1,
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "failed" and not state.verdict.passed
    assert "defines no function named 'find_zero'" in state.verdict.feedback


async def test_the_review_cannot_fail_code_that_passes_every_test(tmp_path: Path) -> None:
    """Case 5: a review saying passed: false turned code passing every test into failed."""
    image, config = scripted_task(
        tmp_path,
        "double",
        {"vision": [DOUBLE], "coding": [GOOD_DOUBLE],
         "checker": [{"passed": False, "score": 0.0, "issues": ["I just do not like it"],
                      "concerns": ["naming"], "feedback": "rewrite everything"}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "passed" and state.verdict.passed and state.verdict.score == 1.0
    assert state.verdict.evidence == "2/2 tests passed"


async def test_the_review_cannot_pass_code_that_fails_a_test(tmp_path: Path) -> None:
    image, config = scripted_task(
        tmp_path,
        "double",
        {"vision": [DOUBLE], "coding": [{"source": "def double(x):\n    return 2\n"}],
         "checker": [{"passed": True, "score": 1.0, "summary": "perfect"}]},
        max_iterations=1,
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "failed" and not state.verdict.passed
    assert "test 'seven': double(7): expected 14, got 2" in state.verdict.feedback


async def test_feedback_shows_reprs_calls_and_exceptions(tmp_path: Path) -> None:
    """Case 7: `expected 5, got 5` when one was '5'; no call shown; exceptions as None."""
    spec = {**DOUBLE, "tests": [
        {"name": "as_text", "call": "double(2.5)", "expected": "'5'"},
        {"name": "negative", "call": "double(-1)", "expected": "-2"},
        {"name": "prints", "stdin": "3\n", "expected_stdout": "6"},
    ]}  # fmt: skip
    spec["tests"].pop()  # a function spec: stdio tests are another interface
    code = (
        "def double(x):\n    if x < 0:\n        raise ValueError('negative input')\n"
        "    return 2 * x\n"
    )
    image, config = scripted_task(
        tmp_path, "double", {"vision": [spec], "coding": [{"source": code}], "checker": [{}]},
        max_iterations=1,
    )  # fmt: skip
    state = await _run(image, config)
    feedback = state.verdict.feedback
    assert "test 'as_text': double(2.5): expected '5', got 5.0 (a value of type float" in feedback
    assert "test 'negative': double(-1): expected -2, but it raised ValueError: negative input" in (
        feedback
    )
    assert "got None" not in feedback


async def test_cut_off_code_is_regenerated_not_run(tmp_path: Path) -> None:
    """Case 3 (code): a reply whose source was cut mid-way was accepted and run."""
    image, config = scripted_task(
        tmp_path,
        "double",
        {"vision": [DOUBLE],
         "coding": [{"tries": [{"source": "def double(x):\n    return (2 *"}, {"source": "  "},
                               GOOD_DOUBLE]}],
         "checker": [{}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "passed"
    coding = next(c for c in state.model_calls if c.agent == "coding")
    assert len(coding.regenerations) == 2
    assert "not valid Python" in coding.regenerations[0] and "empty" in coding.regenerations[1]
    assert len(state.attempts) == 1  # the cut-off program never ran


async def test_counterexamples_run_then_vision_confirms_or_rejects(tmp_path: Path) -> None:
    """The leap-year demo: spec tests pass, two confirmed counterexamples fail the code."""
    image, config = scripted_task(
        tmp_path, "leap_year",
        __import__("yaml").safe_load((EXAMPLES / "replies" / "leap_year.yaml").read_text()),
        image="leap_year",
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "passed" and len(state.attempts) == 2
    first = state.attempts[0]
    assert all(t.passed for t in first.execution.tests)  # the spec's own tests all passed ...
    assert not first.verdict.passed  # ... but confirmed reviewer tests did not
    assert "reviewer test 'reviewer_1_century_1900' (confirmed against the image)" in (
        first.verdict.feedback
    )
    outcomes = {r.test.name: r.outcome for r in state.counterexamples}
    assert outcomes == {
        "reviewer_1_century_1900": "confirmed",
        "reviewer_2_century_2100": "confirmed",
        "reviewer_3_year_zero": "rejected",
    }
    reviewer_tests = [t.name for t in state.spec.tests if t.source == "reviewer"]
    assert reviewer_tests == ["reviewer_1_century_1900", "reviewer_2_century_2100"]
    second = state.attempts[1].execution.tests
    assert [t.source for t in second].count("reviewer") == 2 and all(t.passed for t in second)
    assert [c.agent for c in state.model_calls].count("vision") == 2  # spec + confirmation
    assert state.prompt_versions["vision_confirm"] == "v3"


def _disputed_spec(expected: str) -> dict:
    return {**DOUBLE, "tests": [
        {"name": "one", "call": "double(1)", "expected": "2"},
        {"name": "misread", "call": "double(4)", "expected": expected},
    ]}  # fmt: skip


async def test_a_disputed_test_is_corrected_and_the_same_code_rerun(tmp_path: Path) -> None:
    """The spec author misread 8 as 3; two different programs fail it; vision corrects it."""
    image, config = scripted_task(
        tmp_path,
        "double",
        {"vision": [_disputed_spec("3")],
         "coding": [{"source": "def double(x):\n    return x + x\n"}, GOOD_DOUBLE],
         "checker": [{}, {"suspect_tests": [{"name": "misread", "reason": "2 * 4 is 8"}],
                          "summary": "correct"}],
         "vision_confirm": [{"disputes": [{"id": "D1", "decision": "correct",
                                           "expected": "8", "reason": "the image shows 8"}]}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "passed" and len(state.attempts) == 2
    (dispute,) = state.disputes
    assert (dispute.test_name, dispute.decision, dispute.old_expected, dispute.new_expected) == (
        "misread",
        "correct",
        "3",
        "8",
    )
    verdict = state.verdict
    assert (
        verdict.tests_changed and "misread: correct (expected 3 -> 8)" in verdict.tests_changed[0]
    )
    # the pass comes from executing the corrected test, not from dropping the failure
    assert [t.passed for t in state.attempts[-1].execution.tests] == [True, True]
    assert not state.attempts[0].verdict.passed


async def test_dropping_the_only_failing_tests_never_silently_passes(tmp_path: Path) -> None:
    spec = {**DOUBLE, "tests": [{"name": "misread", "call": "double(4)", "expected": "3"}]}
    image, config = scripted_task(
        tmp_path,
        "double",
        {"vision": [spec],
         "coding": [GOOD_DOUBLE, {"source": "def double(x):\n    return x * 2\n"}],
         "checker": [{}, {"suspect_tests": [{"name": "misread", "reason": "2 * 4 is 8"}]}],
         "vision_confirm": [{"disputes": [{"id": "D1", "decision": "drop",
                                           "reason": "the image has no such example"}]}]},
    )  # fmt: skip
    state = await _run(image, config)
    assert state.status == "unverified" and state.status != "passed"
    assert state.disputes[0].decision == "drop"
    assert "nothing executable is left" in (state.error or "")


def test_cli_shows_unverified_everywhere(tmp_path: Path) -> None:
    image, config = scripted_task(
        tmp_path, "find_zero", {"vision": [{**FIND_ZERO, "tests": []}], "coding": [], "checker": []}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env |= {"AUTORUST_HOME": config.home, "COLUMNS": "200", "AUTORUST_OCR": "off"}
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "run", str(image.parent),
         "--scripted", config.scripted_replies, "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]  # not a pass
    assert "unverified" in run.stdout
    summary = json.loads((out / "latest" / "summary.json").read_text())
    assert summary["counts"] == {"unverified": 1}
    assert "unverified" in (out / "latest" / "summary.md").read_text()
    assert "unverified" in (out / "latest" / "report.html").read_text()
    listing = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "runs", "list", "--db",
         str(Path(config.home) / "checkpoints.sqlite")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "unverified" in listing.stdout


def test_runs_show_and_the_report_show_counterexamples(tmp_path: Path) -> None:
    import yaml

    image, config = scripted_task(
        tmp_path, "leap_year",
        yaml.safe_load((EXAMPLES / "replies" / "leap_year.yaml").read_text()), image="leap_year",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env |= {"AUTORUST_HOME": config.home, "COLUMNS": "250", "AUTORUST_OCR": "off"}
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "run", str(image.parent),
         "--scripted", config.scripted_replies, "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    thread = json.loads(next(out.glob("*/result.json")).read_text())["thread_id"]
    shown = subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", "runs", "show", thread, "--db",
         str(Path(config.home) / "checkpoints.sqlite")],
        env=env, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "counterexample reviewer_1_century_1900: is_leap(1900) -> expected False" in shown
    assert "confirmed against the image" in shown and "rejected by the image" in shown
    page = (out / "latest" / "report.html").read_text()
    assert "reviewer_3_year_zero" in page and "rejected by the image" in page


def _against(config, base_url: str):
    """The same settings with a real ChatOpenAI client against ``base_url``."""
    return type(config)(
        **{**config.model_dump(), "provider": "openai",
           "default": {"model": "m", "base_url": base_url}}
    )  # fmt: skip


def _cut(spec: dict) -> str:
    """The spec as JSON, cut off in the middle of a constraint (as a server sent it)."""
    fields = {k: v for k, v in spec.items() if k != "tests"}
    fields["constraints"] = ["the input list may be very long and unsorted"]
    text = json.dumps({**fields, "tests": spec["tests"]})  # the tests come after the cut
    return text[: text.index("very lo") + 7]


async def test_cut_off_spec_json_is_never_accepted(tmp_path: Path) -> None:
    """Case 3: a vision reply cut mid-way (finish_reason stop) became a Spec with tests: [] and
    a constraint cut mid-word, and the item passed."""
    from tests.support.fake_openai import Completion, FakeOpenAI, replies_by_schema, schema_name

    script = replies_by_schema({"vision": [DOUBLE], "coding": [GOOD_DOUBLE], "checker": [{}]})
    specs_sent: list[int] = []

    def responder(request: dict):
        if schema_name(request) == "Spec":
            specs_sent.append(1)
            if len(specs_sent) == 1:
                return Completion(_cut(DOUBLE), finish_reason="stop")
        return script(request)

    image, config = scripted_task(tmp_path, "double", {})
    with FakeOpenAI(responder) as server:
        config = _against(config, server.base_url)
        state = await _run(image, config)
    vision = next(c for c in state.model_calls if c.agent == "vision")
    assert vision.regenerations and "JSON" in vision.regenerations[0]
    assert state.status == "passed" and len(state.spec.tests) == 2  # the re-asked, whole spec
    assert all("very lo" not in c for c in state.spec.constraints)


async def test_a_spec_that_stays_cut_off_ends_in_an_error(tmp_path: Path) -> None:
    from tests.support.fake_openai import Completion, FakeOpenAI

    image, config = scripted_task(tmp_path, "double", {})
    with FakeOpenAI(lambda request: Completion(_cut(DOUBLE))) as server:
        config = _against(config, server.base_url)
        state = await _run(image, config)
    assert state.status == "error" and state.spec is None and not state.attempts
    assert "vision" in (state.error or "")


async def test_a_failed_review_call_leaves_the_evidence_verdict_standing(tmp_path: Path) -> None:
    """The review can only add tests: an endpoint failing the checker's call must not turn
    code that passed every test into an `error` item (nor pass failing code)."""
    from tests.support.fake_openai import FakeOpenAI, Fault, replies_by_schema, schema_name

    script = replies_by_schema({"vision": [DOUBLE], "coding": [GOOD_DOUBLE], "checker": [{}]})

    def responder(request: dict):
        if schema_name(request) == "Review":
            return Fault(400, body={"error": {"message": "bad request"}})
        return script(request)

    image, config = scripted_task(tmp_path, "double", {})
    with FakeOpenAI(responder) as server:
        state = await _run(image, _against(config, server.base_url))
    assert state.status == "passed" and state.verdict.passed
    assert state.verdict.evidence == "2/2 tests passed (no model review)"
    assert any(c.agent == "checker" for c in state.model_calls)  # the failed call is on record
