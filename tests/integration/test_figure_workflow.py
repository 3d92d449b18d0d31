"""A figure task end to end: scripted model, real sandbox renders the chart, render-and-compare
rejects the wrong colour with feedback naming it, the second attempt passes."""

from __future__ import annotations

from pathlib import Path

from autorust.graph.context import AutorustConfig
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer


async def test_wrong_colour_fails_then_exact_code_passes(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "sales_chart.png", scripted_config, saver)
    state = result.state
    assert state is not None and state.spec is not None and state.spec.kind == "figure"
    assert result.status == "passed" and len(state.attempts) == 2
    first, second = state.attempts

    # the sandbox rendered both attempts; the artifact is a real PNG on the host
    for attempt in (first, second):
        rendered = Path(attempt.execution.artifacts["output.png"])
        assert rendered.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the scripted reviewer found attempt 1 fine: only the comparison's evidence counts
    assert first.verdict.review is not None and first.verdict.review.concerns == []
    assert not first.verdict.passed and not first.verdict.hard_evidence_ok
    figure = first.verdict.figure
    assert figure is not None and figure.score < scripted_config.figure_threshold
    assert "orange" in first.verdict.feedback and "#ff7f0e" in first.verdict.feedback
    assert "green" in first.verdict.feedback  # the extra colour the coder used instead

    assert second.verdict.passed and second.verdict.figure is not None
    assert second.verdict.figure.score >= 0.99 and second.verdict.figure.differences == []


async def test_figure_without_output_png_is_a_hard_failure(
    scripted_config: AutorustConfig, example_images: Path, tmp_path: Path
) -> None:
    import yaml

    script = yaml.safe_load(
        (Path(scripted_config.scripted_replies or "") / "sales_chart.yaml").read_text()
    )
    script["coding"] = [{"source": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n"}]
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "sales_chart.yaml").write_text(yaml.safe_dump(script))
    config = scripted_config.model_copy(
        update={"scripted_replies": str(replies), "max_iterations": 1}
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(example_images / "sales_chart.png", config, saver)
    assert result.status == "failed" and result.state is not None
    verdict = result.state.attempts[0].verdict
    assert verdict.figure is None and not verdict.hard_evidence_ok
    assert "no output.png was produced" in verdict.feedback
