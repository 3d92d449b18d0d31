"""interpreter agent: run the code and the spec's tests in the configured sandbox -> Execution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState
from autorust.imaging.figures.loading import fit_size
from autorust.nodes.support.execution import SandboxFailure, run_tests
from autorust.nodes.support.shared import app_config
from autorust.sandbox.base import SandboxUnavailableError


def artifact_dir(config: AutorustConfig, state: RunState, label: str) -> Path:
    return Path(config.home) / "artifacts" / state.image_sha256[:16] / label


async def interpreter_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    assert state.spec is not None and state.code is not None, "interpreter runs after coding"
    config = app_config(runtime)
    label = f"iter{state.iteration}" + ("-recheck" if state.recheck else "")
    try:
        execution = await run_tests(
            state.spec,
            state.spec.tests,
            state.code.source,
            config,
            artifact_dir(config, state, label),
            target_size=fit_size(state.image_path) if state.spec.kind == "figure" else None,
        )
    except (SandboxFailure, SandboxUnavailableError) as exc:
        # the sandbox, not the code, failed: an infrastructure error, no attempt is charged
        return {"status": "error", "error": f"sandbox failure: {exc}"}
    return {"execution": execution, "recheck": False}
