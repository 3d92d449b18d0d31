"""Item identity: which LangGraph thread an image's run lives in, and the run config for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from autorust.graph.context import AutorustConfig
from autorust.imaging.digest import sha256_file
from autorust.llm.resources import RESOURCES_KEY, RunResources


def thread_id_for(image_path: str | Path, config: AutorustConfig) -> str:
    """Content hash of the image plus the settings that change the result."""
    return thread_id_from_digest(sha256_file(Path(image_path)), config.fingerprint())


def thread_id_from_digest(sha256_hex: str, fingerprint: str) -> str:
    """``fingerprint`` is ``AutorustConfig.fingerprint()``: a batch computes it once."""
    return f"{sha256_hex[:16]}-{fingerprint}"


def thread_config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    """``{"configurable": {...}}`` addressing a thread (or one checkpoint of it)."""
    configurable = {"thread_id": thread_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def runnable_config_for(
    thread_id: str,
    image_path: str,
    config: AutorustConfig,
    *,
    callbacks: list[BaseCallbackHandler] | None = None,
    resources: RunResources | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """LangGraph run config; the metadata (kept with every checkpoint) lets any later command
    resume or fork the thread with the configuration it started with. It holds no secrets.
    ``resources``: the batch's (or run's) journal, caps and stop switch, for the nodes' model
    calls (an object, so LangGraph keeps it out of the checkpoint metadata)."""
    addressed = thread_config(thread_id)
    if resources is not None:
        addressed["configurable"][RESOURCES_KEY] = resources
    return {
        **addressed,
        "callbacks": callbacks or [],
        "metadata": {
            "image_path": image_path,
            "model_provider": config.provider,
            "autorust_config": config.model_dump_json(),
            **metadata,
        },
    }
