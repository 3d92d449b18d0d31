"""Small steps many tests take with runs: the model calls of a batch, a fork of a passed run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autorust.graph.context import AutorustConfig
from autorust.graph.state import ModelCall
from autorust.outcomes import ItemResult


def calls_of(results: Iterable[ItemResult]) -> list[ModelCall]:
    """Every model call the results' states recorded, in order."""
    return [call for result in results if result.state for call in result.state.model_calls]


async def fork_at_first_coding(
    saver: Any, config: AutorustConfig, image: Path
) -> tuple[ItemResult, str, ItemResult]:
    """Runs ``image``, then forks it at its first coding step with feedback: (the run, the
    checkpoint id forked from, the fork)."""
    from autorust.runtime.history import fork, history
    from autorust.runtime.runner import compile_graph, run_image

    first = await run_image(image, config, saver)
    steps = await history(compile_graph(saver), first.thread_id or "")
    coding = next(step for step in steps if step.node == "coding")
    forked = await fork(saver, first.thread_id or "", coding.checkpoint_id, feedback="again")
    return first, coding.checkpoint_id, forked
