"""Figures whose picture depends on how often, or at which dpi, they have been drawn (issue
#25): a draw callback or layout step moves things when the harness saves the figure again at
the image's size, so the fitted renders are not the picture the program saved. The program's
own save, when it is the image's pixels, passes; a data edit is caught whatever the figure
does on a redraw. Generated for each mechanism of the class: settles after the first draw,
a label outside the axes nudged after the first draw, a margin that follows the drawn text
(matplotlib's gallery recipe auto_subplots_adjust), drifts on every draw, and a stable control.

Known limit (measured, not hidden): the same program saved at ANOTHER dpi may fail when its
layout depends on the dpi of an earlier draw (the fitted render then differs by a few pixels
from a fresh render at the image's dpi); only the stable control is held to that here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Spec
from autorust.imaging.figures.judge import judge_figure
from autorust.nodes.support.execution import run_tests

SPEC = Spec(title="monthly sales", description="bar chart", kind="figure", interface="figure")
SCRIPT = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6.4, 4.8))
values = {values}
ax.bar(["Jan", "Feb", "Mar", "Apr", "May", "Jun"], values, color="#2ca02c")
ax.set_title("Monthly sales")
ax.set_ylabel("Units sold")
{mechanism}
fig.savefig("output.png"{dpi})
"""
VALUES = [12, 18, 9, 15, 21, 11]
EDITED = [v * 1.3 if i % 2 == 0 else v for i, v in enumerate(VALUES)]
MECHANISMS = {
    "stable": "",
    "first_draw": """
moved = [False]
def on_draw(event):
    if not moved[0]:
        moved[0] = True
        fig.subplots_adjust(left=0.2, bottom=0.15)
fig.canvas.mpl_connect("draw_event", on_draw)
""",
    # a label outside the axes nudged after the first draw: the axes stay where they were
    "label_after_draw": """
ax.set_xlabel("Month")
nudged = [False]
def on_draw(event):
    if not nudged[0]:
        nudged[0] = True
        ax.xaxis.set_label_coords(0.5, -0.13)
fig.canvas.mpl_connect("draw_event", on_draw)
""",
    "fit_labels": """
ax.set_yticks([5, 10, 15, 20], labels=["a few", "quite a lot more", "many", "very many indeed"])
def on_draw(event):
    boxes = [t.get_window_extent().transformed(fig.transFigure.inverted())
             for t in ax.get_yticklabels()]
    width = max(b.width for b in boxes)
    if fig.subplotpars.left < width:
        fig.subplots_adjust(left=1.1 * width)
        fig.canvas.draw()
fig.canvas.mpl_connect("draw_event", on_draw)
""",
    "every_draw": """
draws = [0]
def on_draw(event):
    draws[0] += 1
    ax.set_title("Monthly sales", pad=6 + 4 * draws[0])
    box = ax.get_position()
    ax.set_position([box.x0 + 0.01, box.y0, box.width - 0.01, box.height])
fig.canvas.mpl_connect("draw_event", on_draw)
""",
}


def _script(mechanism: str, values: list[float] = VALUES, dpi: int | None = None) -> str:
    return SCRIPT.format(values=values, mechanism=MECHANISMS[mechanism],
                         dpi=f", dpi={dpi}" if dpi else "")  # fmt: skip


def _target(mechanism: str, folder: Path) -> Path:
    """The task image: the script's own first save at 100 dpi, outside the harness."""
    folder.mkdir(parents=True)
    (folder / "solution.py").write_text(_script(mechanism))
    subprocess.run([sys.executable, "solution.py"], cwd=folder, check=True, timeout=120)
    return folder / "output.png"


async def _judge(source: str, target: Path, folder: Path):  # type: ignore[no-untyped-def]
    config = AutorustConfig(home=str(folder / ".autorust"))
    execution = await run_tests(SPEC, [], source, config, folder, target_size=(640, 480))
    assert execution.exit_code == 0, execution.stderr
    return judge_figure(target, execution.artifacts)


@pytest.mark.bwrap
@pytest.mark.parametrize("mechanism", list(MECHANISMS))
async def test_the_program_that_drew_the_image_passes_and_edited_data_fails(
    mechanism: str, tmp_path: Path
) -> None:
    target = _target(mechanism, tmp_path / "target")
    same = await _judge(_script(mechanism), target, tmp_path / "same")
    assert same.passed, (mechanism, same.failed_checks)
    edited = await _judge(_script(mechanism, EDITED), target, tmp_path / "edited")
    assert not edited.passed, mechanism
    if mechanism == "stable":
        for dpi in (80, 125):
            other = await _judge(_script(mechanism, dpi=dpi), target, tmp_path / f"dpi{dpi}")
            assert other.passed, (dpi, other.failed_checks)
