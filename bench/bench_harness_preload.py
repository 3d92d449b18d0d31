"""Harness jobs with and without preloading (issue 26): a figure job and a numpy function
task, through the real harness in the warm bubblewrap pool, interleaved, medians.

``--old-harness PATH`` runs a second harness source too (``git show REV:sandbox/harness.py``),
to compare children started as fresh interpreters with children forked from the preloaded one.
The first round is a warm-up (it makes the preloaded pools) and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from autorust.graph.context import AutorustConfig
from autorust.graph.state import Spec, TestCase
from autorust.nodes.support.execution import build_job, harness_report
from autorust.sandbox.bubblewrap.executor import BubblewrapExecutor

FIGURE = (
    "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\n"
    "import matplotlib.pyplot as plt\nx = np.linspace(0, 1, 50)\n"
    "plt.plot(x, x ** 2)\nplt.savefig('output.png')\n"
)
FUNCTION = "import numpy as np\ndef f(n):\n    return int(np.arange(n).sum())\n"
CASES = {
    "figure": (
        Spec(title="fig", description="fig", interface="figure", tests=[]),
        FIGURE,
        ["numpy", "matplotlib.pyplot"],
    ),
    "numpy function, 5 tests": (
        Spec(
            title="f",
            description="f",
            interface="function",
            function_name="f",
            tests=[
                TestCase(name=f"t{n}", call=f"f({n})", expected=str(n * (n - 1) // 2))
                for n in range(5)
            ],
        ),
        FUNCTION,
        ["numpy"],
    ),
}


async def main(runs: int, old_harness: str | None) -> None:
    harnesses = {"new": None}
    if old_harness:
        harnesses["old"] = Path(old_harness).read_text(encoding="utf-8")
    config = AutorustConfig()
    executor = BubblewrapExecutor(warm_pool_size=1)
    await executor.check()
    times: dict[tuple, list[float]] = {}
    try:
        for round_ in range(runs + 1):
            for case, (spec, source, preload) in CASES.items():
                for label, harness_source in harnesses.items():
                    for loaded in ([], preload):
                        job, nonce = build_job(spec, spec.tests, source, config)
                        files = dict(job.files)
                        if harness_source is not None:
                            files["_harness.py"] = harness_source
                        job = job.model_copy(update={"preload": loaded, "files": files})
                        await asyncio.sleep(1.5)  # the pools refill, as between agent turns
                        start = time.perf_counter()
                        result = await executor.execute(job)
                        elapsed = time.perf_counter() - start
                        report = harness_report(result, nonce)
                        assert report is not None, result
                        assert all(t["passed"] for t in report["tests"]), report
                        assert report["program"]["exit_code"] == 0, report
                        if round_ == 0:
                            continue
                        key = (case, label, "preload" if loaded else "none")
                        times.setdefault(key, []).append(elapsed * 1000)
    finally:
        await executor.aclose()
    medians = {key: statistics.median(values) for key, values in times.items()}
    for key, values in times.items():
        print(f"{' / '.join(key):45s} p50 {medians[key]:7.1f} ms  (n={len(values)})")
    for case in CASES:
        ratio = medians[(case, "new", "preload")] / medians[(case, "new", "none")]
        print(f"{case}: preloaded / not preloaded: {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--old-harness")
    parser.add_argument("--smoke", action="store_true", help="1 counted round: checks it runs")
    args = parser.parse_args()
    asyncio.run(main(1 if args.smoke else args.runs, args.old_harness))
