"""Figures whose pictures depend on how often they have been drawn (issue #25): a draw callback
or layout step that moves things on each draw makes the harness's second save (at the target's
size) another picture than the one the solution saved. A faithful program must still pass at
any dpi, and a data edit must still be caught. Generated here for every mechanism of the class
(moves on every draw, settles after the first draw) and a stable control."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Spec
from autorust.imaging.figures.judge import UNSTABLE, judge_figure
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
    # every draw nudges the title and shrinks the axes a little: no two saves are alike
    "every_draw": """
draws = [0]
def on_draw(event):
    draws[0] += 1
    ax.set_title("Monthly sales", pad=6 + 4 * draws[0])
    box = ax.get_position()
    ax.set_position([box.x0 + 0.01, box.y0, box.width - 0.01, box.height])
fig.canvas.mpl_connect("draw_event", on_draw)
""",
    # the first draw moves the axes once (a layout fixed up after seeing the first draw)
    "first_draw": """
moved = [False]
def on_draw(event):
    if not moved[0]:
        moved[0] = True
        fig.subplots_adjust(left=0.2, bottom=0.15)
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
    return judge_figure(target, execution.artifacts), execution.artifacts


@pytest.mark.bwrap
@pytest.mark.parametrize("mechanism", list(MECHANISMS))
async def test_faithful_renders_pass_and_data_edits_fail_however_the_figure_redraws(
    mechanism: str, tmp_path: Path
) -> None:
    target = _target(mechanism, tmp_path / "target")
    for dpi in (None, 80, 125):
        verdict, artifacts = await _judge(_script(mechanism, dpi=dpi), target, tmp_path / f"{dpi}")
        assert verdict.passed, (mechanism, dpi, verdict.failed_checks)
        assert "_fit/again.png" in artifacts
        assert (UNSTABLE in verdict.notes) == (mechanism != "stable" and dpi is not None)
    edited, _ = await _judge(_script(mechanism, EDITED), target, tmp_path / "edited")
    assert not edited.passed, mechanism
