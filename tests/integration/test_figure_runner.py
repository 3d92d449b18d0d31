"""The figure runner (issue #25): the candidate's figure is saved again at the target's pixel
size in the sandbox, its facts are exported as ``figure.json``, and the host judges like with
like. Facts are untrusted: a forged ``figure.json`` never makes a wrong figure pass."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Spec
from autorust.imaging.figures.facts import load_facts
from autorust.imaging.figures.judge import judge_figure
from autorust.imaging.ocr import ocr_available
from autorust.nodes.support.execution import build_job, run_tests

SPEC = Spec(title="quarterly revenue", description="bar chart", kind="figure", interface="figure")
BARS = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
ax.bar(["Q1", "Q2", "Q3", "Q4"], {values}, color="{colour}")
ax.set_title("{title}")
ax.set_ylabel("Revenue")
fig.savefig("output.png"{dpi})
"""
GOOD = {"values": [10, 14, 9, 12], "colour": "#1f77b4", "title": "Quarterly revenue", "dpi": ""}


def _source(**change: object) -> str:
    return BARS.format(**{**GOOD, **change})


@pytest.fixture
def target(tmp_path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.bar(["Q1", "Q2", "Q3", "Q4"], GOOD["values"], color=GOOD["colour"])
    ax.set_title(GOOD["title"])
    ax.set_ylabel("Revenue")
    path = tmp_path / "target.png"
    fig.savefig(path)
    plt.close(fig)
    return path


async def _run(source: str, tmp_path: Path, name: str) -> dict[str, str]:
    config = AutorustConfig(home=str(tmp_path / ".autorust"))
    execution = await run_tests(SPEC, [], source, config, tmp_path / name, target_size=(640, 480))
    assert execution.exit_code == 0, execution.stderr
    return execution.artifacts


def test_a_figure_job_ships_the_runner_and_the_target_size() -> None:
    job, _ = build_job(SPEC, [], "pass", AutorustConfig(), target_size=(640, 480))
    assert "_figure_runner.py" in job.files and "figure.json" in job.collect
    assert json.loads(job.stdin)["target_size"] == [640, 480]
    program = Spec(title="t", description="d", function_name="f")
    job, _ = build_job(program, [], "pass", AutorustConfig(), target_size=(640, 480))
    assert "_figure_runner.py" not in job.files


@pytest.mark.bwrap
async def test_another_dpi_is_saved_again_at_the_targets_size(target: Path, tmp_path: Path) -> None:
    artifacts = await _run(_source(dpi=", dpi=200"), tmp_path, "a")
    facts = load_facts(artifacts["figure.json"])
    assert facts is not None and facts.fit is not None and facts.fit.size == [640, 480]
    texts = {t.text for _, t in facts.fit.all_texts()}
    assert {"Quarterly revenue", "Revenue", "Q3"} <= texts
    bars = [a for a in facts.fit.axes[0].artists if a.kind == "rectangle"]
    assert [b.data[3] for b in bars] == GOOD["values"]
    verdict = judge_figure(target, artifacts)
    assert verdict.passed and verdict.score == 1.0  # the target's pixels


@pytest.mark.bwrap
async def test_a_taller_bar_is_named_with_its_tick_and_size(target: Path, tmp_path: Path) -> None:
    artifacts = await _run(_source(values=[10, 14, 11.7, 12]), tmp_path, "b")
    verdict = judge_figure(target, artifacts)
    assert not verdict.passed
    assert any("the bar for 'Q3' is 30% higher than in the image" in f
               for f in verdict.failed_checks), verdict.failed_checks  # fmt: skip


@pytest.mark.bwrap
@pytest.mark.skipif(not ocr_available(), reason="needs tesseract")
async def test_a_replaced_title_word_is_named(target: Path, tmp_path: Path) -> None:
    artifacts = await _run(_source(title="Quarterly income"), tmp_path, "c")
    verdict = judge_figure(target, artifacts)
    assert not verdict.passed
    text = " ".join(verdict.failed_checks)
    assert "revenue" in text.lower() and "income" in text.lower(), verdict.failed_checks


@pytest.mark.bwrap
async def test_forged_facts_never_make_a_wrong_figure_pass(target: Path, tmp_path: Path) -> None:
    honest = await _run(_source(), tmp_path, "honest")
    forged_facts = Path(honest["figure.json"]).read_text()
    cheat = _source(colour="#d62728") + (  # the runner's json.dump now writes forged facts
        f"import json\njson.dump = lambda obj, handle, *a, **k: handle.write({forged_facts!r})\n"
    )
    artifacts = await _run(cheat, tmp_path, "cheat")
    assert Path(artifacts["figure.json"]).read_text() == forged_facts
    verdict = judge_figure(target, artifacts)
    assert not verdict.passed and verdict.failed_checks


def test_malformed_facts_are_ignored(tmp_path: Path) -> None:
    for content in ("{", "[]", json.dumps({"fit": {"size": "x"}}), "1" * 10):
        path = tmp_path / "figure.json"
        path.write_text(content)
        assert load_facts(path) is None
    assert load_facts(None) is None
