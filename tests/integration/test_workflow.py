"""The four-agent loop end to end: real sandbox, real SQLite checkpoints, scripted model."""

from __future__ import annotations

from pathlib import Path

from langgraph.graph import END

from autorust.graph.context import AutorustConfig
from autorust.graph.routing import (
    route_after_approval,
    route_after_checker,
    route_after_final_review,
    route_after_judge,
    route_after_vision,
)
from autorust.graph.state import PendingReview, ProposedTest, Review, RunState, Spec, Verdict
from autorust.graph.workflow import build_graph, graph
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer


def test_routing_decisions() -> None:
    base = RunState(image_path="x.png")
    assert route_after_vision(base) == "coding"
    assert route_after_vision(base.model_copy(update={"status": "error"})) == END
    assert route_after_vision(base.model_copy(update={"status": "unverified"})) == END
    assert route_after_judge(base.model_copy(update={"status": "running"})) == "coding"
    assert route_after_judge(base.model_copy(update={"status": "passed"})) == END
    assert route_after_judge(base.model_copy(update={"recheck": True})) == "interpreter"
    failed = base.model_copy(update={"status": "failed"})
    assert route_after_judge(failed) == "final_review"
    assert route_after_final_review(failed) == END  # max iterations: the run ends failed
    assert route_after_final_review(base) == "coding"  # a reviewer granted more attempts
    assert route_after_approval(base) == "interpreter"
    assert route_after_approval(base.model_copy(update={"approval": "revise"})) == "coding"
    assert route_after_approval(base.model_copy(update={"approval": "rejected"})) == END


def test_checker_routes_counterexamples_only_for_passing_code() -> None:
    spec = Spec(title="t", description="d", function_name="f")
    review = Review(counterexamples=[ProposedTest(name="c", call="f(1)", expected="2")])
    passing = RunState(
        image_path="x.png", spec=spec, review=review, verdict=Verdict(passed=True, score=1.0)
    )
    assert route_after_checker(passing) == "probe"
    failing = passing.model_copy(update={"verdict": Verdict(passed=False, score=0.5)})
    assert route_after_checker(failing) == "judge"
    disputed = failing.model_copy(
        update={"pending_review": PendingReview(disputes=[{"name": "t1", "reason": "r"}])}
    )
    assert route_after_checker(disputed) == "confirm"


def test_graph_shape_and_studio_export() -> None:
    edges = {(e.source, e.target) for e in build_graph().compile().get_graph().edges}
    assert ("checker", "judge") in edges and ("judge", "coding") in edges
    assert ("checker", "probe") in edges and ("probe", "confirm") in edges
    assert ("confirm", "judge") in edges and ("judge", "interpreter") in edges
    assert ("vision", "coding") in edges and ("coding", "approve_execution") in edges
    assert ("approve_execution", "interpreter") in edges and ("interpreter", "checker") in edges
    assert graph.checkpointer is None  # langgraph dev supplies its own


async def test_pass_on_first_attempt(scripted_config: AutorustConfig, example_images: Path) -> None:
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "sum_even.png", scripted_config, saver)
    assert result.status == "passed"
    assert result.iterations == 1
    state = result.state
    assert state is not None and state.verdict is not None and state.verdict.passed
    assert all(t.passed for t in state.attempts[0].execution.tests)
    assert len(state.image_sha256) == 64


async def test_fail_then_pass_with_feedback(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "palindrome.png", scripted_config, saver)
    state = result.state
    assert result.status == "passed" and state is not None
    first, second = state.attempts
    assert not first.verdict.passed and second.verdict.passed
    assert not first.verdict.hard_evidence_ok
    # feedback names the failing tests with expected vs actual
    assert "test 'mixed_case': is_palindrome('Racecar'): expected True, got False" in (
        first.verdict.feedback
    )
    assert "punctuation" in first.verdict.feedback


async def test_max_iterations_ends_with_failed_verdict(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    config = scripted_config.model_copy(update={"max_iterations": 1})
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(example_images / "palindrome.png", config, saver)
    assert result.status == "failed"
    assert result.iterations == 1
    assert result.state is not None and result.state.verdict is not None
    assert not result.state.verdict.passed


async def test_stdio_task_loop(scripted_config: AutorustConfig, example_images: Path) -> None:
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "reverse_words.png", scripted_config, saver)
    assert result.status == "passed" and result.iterations == 2
    failed = result.state.attempts[0].execution.tests  # type: ignore[union-attr]
    example = next(t for t in failed if t.name == "example")
    assert not example.passed and example.actual == repr("xof nworb kciuq eht\n")


async def test_corrupt_image_is_a_clear_item_error(
    scripted_config: AutorustConfig, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(bad, scripted_config, saver)
    assert result.status == "error"
    assert "broken.png: not an image" in (result.error or "")
