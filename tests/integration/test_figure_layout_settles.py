"""A layout decided at draw time starts from the last draw's positions (issue #25): a
constrained-layout figure drawn at another size and then saved again at the target's size
by the figure runner kept the margins of the other size for one draw, so a faithful
re-render's fitted picture was not the target's picture. The runner draws once at the
target's size before it saves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autorust.imaging.figures import renders_identical

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "sandbox" / "figure_runner.py"
SCRIPT = ROOT / "tests/fixtures/gallery/scripts/lines_bars_and_markers/barchart.py"


def _run(folder: Path, epilogue: str, size: tuple[int, int]) -> Path:
    folder.mkdir()
    source = SCRIPT.read_text(encoding="utf-8").replace("plt.show()", "pass")
    (folder / "solution.py").write_text(
        "import matplotlib\nmatplotlib.use('Agg')\n" + source + "\n" + epilogue,
        encoding="utf-8",
    )
    shutil.copy(RUNNER, folder / "_figure_runner.py")
    subprocess.run(
        [sys.executable, "_figure_runner.py", *map(str, size)],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return folder


@pytest.mark.parametrize("factor", [0.6, 1.7])
def test_a_constrained_layout_figure_of_another_size_fits_to_the_targets_picture(
    tmp_path: Path, factor: float
) -> None:
    target = _run(tmp_path / "target", "plt.gcf().savefig('output.png')", (0, 0))
    other = _run(
        tmp_path / "other",
        f"_f = plt.gcf()\n_f.set_size_inches(_f.get_size_inches() * {factor}, forward=False)\n"
        "_f.savefig('output.png')",
        (640, 480),
    )
    assert not renders_identical(target / "output.png", other / "output.png")
    assert renders_identical(target / "output.png", other / "_fit" / "resized.png")
