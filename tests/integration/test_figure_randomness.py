"""A chart drawn from unseeded random data can never match its target: the checker renders such
code twice and says so (issue #17, case 9), instead of failing it forever without a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from tests.support.scripted import scripted_task

pytestmark = pytest.mark.bwrap

SPEC = {
    "title": "Noise",
    "kind": "figure",
    "interface": "figure",
    "description": "Reproduce the chart.",
}
PLOT = (
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "import numpy as np\n{seed}"
    "fig, ax = plt.subplots(figsize=(6.4, 4.2))\n"
    "ax.plot(np.random.rand(30), color='#1f77b4')\nfig.savefig('output.png', dpi=100)\n"
)


@pytest.mark.parametrize(("seed", "named"), [("", True), ("np.random.seed(0)\n", False)])
async def test_unseeded_randomness_is_named(tmp_path: Path, seed: str, named: bool) -> None:
    image, config = scripted_task(
        tmp_path,
        "noise",
        {"vision": [SPEC], "coding": [{"source": PLOT.format(seed=seed)}], "checker": [{}]},
        image="sales_chart",
        max_iterations=1,
        # two renders and the runner's re-save: generous for a loaded 2-core machine
        executor={"limits": {"timeout_s": 40}},
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(image, config, saver)
    state = result.state
    assert state is not None and result.status == "failed"  # a different chart either way
    attempt = state.attempts[0]
    assert "_render2/output.png" in attempt.execution.artifacts  # it was rendered twice
    assert ("draws random data without a fixed seed" in attempt.verdict.feedback) is named
