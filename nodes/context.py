"""What every node needs from the runtime: the run's configuration and model-call metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from graph.config import AutorustConfig
from graph.state import RunState


def run_config(runtime: Runtime[AutorustConfig] | None) -> AutorustConfig:
    """The run's configuration; environment/file defaults when the caller passed no context."""
    context = runtime.context if runtime is not None else None
    if context is None:
        return AutorustConfig()
    if isinstance(context, dict):
        return AutorustConfig(**context)
    return context


def call_metadata(state: RunState) -> dict[str, Any]:
    """Tags a model call with the image and iteration (traces, and the scripted model's key)."""
    return {
        "autorust_image": Path(state.image_path).stem,
        "autorust_image_sha256": state.image_sha256,
        "autorust_iteration": state.iteration,
    }
