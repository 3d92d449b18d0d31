"""Run one image through the graph with a checkpointer: start, resume, or skip if finished."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from graph.config import AutorustConfig
from graph.state import RunState, RunStatus
from graph.workflow import build_graph
from nodes.images import sha256_file

FINISHED: tuple[RunStatus, ...] = ("passed", "failed", "error")


class ItemResult(BaseModel):
    image_path: str
    thread_id: str | None
    status: RunStatus
    iterations: int = 0
    error: str | None = None
    resumed: bool = False
    skipped: bool = False
    awaiting: str | None = None  # the question a paused (interrupted) run waits on
    duration_s: float = 0.0
    state: RunState | None = None


def thread_id_for(image_path: str | Path, config: AutorustConfig) -> str:
    """Content hash of the image plus the settings that change the result."""
    return f"{sha256_file(Path(image_path))[:16]}-{config.fingerprint()}"


def run_config_for(
    thread_id: str,
    image_path: str,
    config: AutorustConfig,
    *,
    callbacks: list[BaseCallbackHandler] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """LangGraph run config; the metadata (kept with every checkpoint) lets any later command
    resume or fork the thread with the configuration it started with. It holds no secrets."""
    return {
        "configurable": {"thread_id": thread_id},
        "callbacks": callbacks or [],
        "metadata": {
            "image_path": image_path,
            "model_provider": config.provider,
            "autorust_config": config.model_dump_json(),
            **metadata,
        },
    }


def compile_graph(checkpointer: BaseCheckpointSaver, **kwargs: Any) -> CompiledStateGraph:
    return build_graph().compile(checkpointer=checkpointer, name="autorust", **kwargs)


async def run_image(
    image_path: str | Path,
    config: AutorustConfig,
    checkpointer: BaseCheckpointSaver,
    *,
    force: bool = False,
    callbacks: list[BaseCallbackHandler] | None = None,
    graph: CompiledStateGraph | None = None,
) -> ItemResult:
    started = time.perf_counter()
    image_path = str(image_path)
    try:
        thread_id = thread_id_for(image_path, config)
    except OSError as exc:
        return ItemResult(image_path=image_path, thread_id=None, status="error", error=str(exc))
    graph = graph or compile_graph(checkpointer)
    run_config = run_config_for(thread_id, image_path, config, callbacks=callbacks)
    if force:
        await checkpointer.adelete_thread(thread_id)
    snapshot = await graph.aget_state(run_config)
    existing = RunState.model_validate(snapshot.values) if snapshot.values else None
    if existing is not None and not snapshot.next and existing.status in FINISHED:
        return _result(image_path, thread_id, existing, started, skipped=True)
    resumed = existing is not None
    graph_input = (
        None if resumed else RunState(image_path=image_path, max_iterations=config.max_iterations)
    )
    await graph.ainvoke(graph_input, run_config, context=config)
    return await collect(graph, thread_id, image_path, started, resumed=resumed)


async def collect(
    graph: CompiledStateGraph,
    thread_id: str,
    image_path: str,
    started: float,
    *,
    resumed: bool = False,
) -> ItemResult:
    """The thread's current outcome, including a pause at an approval interrupt."""
    snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    result = _result(
        image_path, thread_id, RunState.model_validate(snapshot.values), started, resumed=resumed
    )
    if snapshot.interrupts:
        value = snapshot.interrupts[0].value
        result.awaiting = value.get("question") if isinstance(value, dict) else str(value)
    return result


def _result(
    image_path: str,
    thread_id: str,
    state: RunState,
    started: float,
    *,
    skipped: bool = False,
    resumed: bool = False,
) -> ItemResult:
    return ItemResult(
        image_path=image_path,
        thread_id=thread_id,
        status=state.status,
        iterations=len(state.attempts),
        error=state.error,
        resumed=resumed,
        skipped=skipped,
        duration_s=round(time.perf_counter() - started, 3),
        state=state,
    )
