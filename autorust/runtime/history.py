"""Look into checkpointed runs, resume them, and fork them from any step (time travel)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState
from autorust.outcomes import ItemResult
from autorust.runtime.identity import runnable_config_for, thread_config
from autorust.runtime.resources import BatchResources
from autorust.runtime.runner import DURABILITY, collect, compile_graph, run_span
from autorust.sandbox.base import Executor
from autorust.storage.listing import holding
from autorust.storage.run_index import RunRow


class StepRow(BaseModel):
    checkpoint_id: str
    step: int
    source: str
    node: str | None  # the node whose result this checkpoint holds
    next: list[str]
    iteration: int
    status: str
    title: str | None = None
    code_lines: int | None = None
    verdict: str | None = None


class RunNotFoundError(LookupError):
    pass


async def list_threads(saver: BaseCheckpointSaver) -> list[RunRow]:
    graph = compile_graph(saver)
    latest: dict[str, Any] = {}
    async for item in saver.alist(None):
        thread_id = item.config["configurable"]["thread_id"]
        if thread_id not in latest or item.checkpoint["ts"] > latest[thread_id].checkpoint["ts"]:
            latest[thread_id] = item
    rows = []
    for thread_id, item in latest.items():
        snapshot = await graph.aget_state(thread_config(thread_id))
        if not snapshot.values:
            continue
        state = RunState.model_validate(snapshot.values)
        rows.append(
            RunRow(
                thread_id=thread_id,
                image_path=state.image_path,
                status=state.status,
                iterations=len(state.attempts),
                updated=datetime.fromisoformat(item.checkpoint["ts"]),
                awaiting=bool(snapshot.interrupts),
                forked_from=(item.metadata or {}).get("forked_from"),
            )
        )
    return sorted(rows, key=lambda row: row.updated, reverse=True)


async def history(graph: CompiledStateGraph, thread_id: str) -> list[StepRow]:
    snapshots = [s async for s in graph.aget_state_history(thread_config(thread_id))]
    if not snapshots:
        raise RunNotFoundError(f"no run with thread id {thread_id!r}")
    snapshots.reverse()  # oldest first
    rows: list[StepRow] = []
    previous_next: tuple[str, ...] = ()
    for snapshot in snapshots:
        values = snapshot.values or {}
        state = RunState.model_validate(values) if "image_path" in values else None
        metadata = snapshot.metadata or {}
        rows.append(
            StepRow(
                checkpoint_id=snapshot.config["configurable"]["checkpoint_id"],
                step=metadata.get("step", -1),
                source=metadata.get("source", ""),
                node=previous_next[0] if previous_next else None,
                next=list(snapshot.next),
                iteration=state.iteration if state else 0,
                status=state.status if state else "",
                title=state.spec.title if state and state.spec else None,
                code_lines=len(state.code.source.splitlines()) if state and state.code else None,
                verdict=(
                    ("pass" if state.verdict.passed else "fail") + f" {state.verdict.score:.2f}"
                    if state and state.verdict
                    else None
                ),
            )
        )
        previous_next = snapshot.next
    return rows


async def stored_config(graph: CompiledStateGraph, thread_id: str) -> AutorustConfig:
    """The configuration the thread was started with (kept in its checkpoint metadata)."""
    snapshot = await graph.aget_state(thread_config(thread_id))
    if not snapshot.values:
        raise RunNotFoundError(f"no run with thread id {thread_id!r}")
    saved = (snapshot.metadata or {}).get("autorust_config")
    return AutorustConfig.model_validate_json(saved) if saved else AutorustConfig()


async def is_finished(saver: BaseCheckpointSaver, thread_id: str) -> bool:
    """Nothing left to run: no next node and no pause waiting for an answer."""
    snapshot = await compile_graph(saver).aget_state(thread_config(thread_id))
    if not snapshot.values:
        raise RunNotFoundError(f"no run with thread id {thread_id!r}")
    return not snapshot.next and not snapshot.interrupts


async def resume(
    saver: BaseCheckpointSaver,
    thread_id: str,
    *,
    decision: dict[str, Any] | None = None,
    config: AutorustConfig | None = None,
    executor: Executor | None = None,
) -> ItemResult:
    """Continue a crashed, interrupted or paused run; ``decision`` answers an approval pause.
    ``executor``: the caller's sandbox executor for ``config.executor`` (None: the process's)."""
    graph = compile_graph(saver)
    config = config or await stored_config(graph, thread_id)
    snapshot = await graph.aget_state(thread_config(thread_id))
    state = RunState.model_validate(snapshot.values)
    started = time.perf_counter()
    with run_span(thread_id, autorust__run_kind="resume") as record:
        if snapshot.next:
            command = (
                Command(resume=decision) if snapshot.interrupts and decision is not None else None
            )
            async with (
                BatchResources.open(saver, executor=executor) as resources,
                holding(saver, thread_id, resources.holders),  # "running" in runs list
            ):
                await graph.ainvoke(
                    command,
                    runnable_config_for(thread_id, state.image_path, config, resources=resources),
                    context=config,
                    durability=DURABILITY,
                )
        return record(await collect(graph, thread_id, state.image_path, started, resumed=True))


async def fork(
    saver: BaseCheckpointSaver,
    thread_id: str,
    checkpoint_id: str,
    *,
    feedback: str | None = None,
    prompt_versions: dict[str, str] | None = None,
    config: AutorustConfig | None = None,
    executor: Executor | None = None,
) -> ItemResult:
    """Re-run from ``checkpoint_id`` with a change, in a new thread; the original is untouched.

    The fork starts from the state at that checkpoint: with ``feedback`` the next coding attempt
    gets it (a finished run is reopened for one more attempt); with ``prompt_versions`` every
    later step uses those prompt versions.
    """
    graph = compile_graph(saver)
    source = await graph.aget_state(thread_config(thread_id, checkpoint_id))
    if not source.values:
        raise RunNotFoundError(f"no checkpoint {checkpoint_id!r} in thread {thread_id!r}")
    if source.parent_config is None:
        raise ValueError("fork from a step after the start (the input checkpoint has no result)")
    parent = await graph.aget_state(source.parent_config)
    as_node = parent.next[0]
    config = config or await stored_config(graph, thread_id)
    if prompt_versions:
        config = config.model_copy(
            update={"prompt_versions": {**config.prompt_versions, **prompt_versions}}
        )
    values = RunState.model_validate(source.values)
    updates: dict[str, Any] = {}
    if feedback:
        updates["feedback"] = feedback
        if values.status in ("passed", "failed") and as_node == "judge":
            updates["status"] = "running"
            limit = values.max_iterations or config.max_iterations
            updates["max_iterations"] = max(limit, values.iteration + 1)
    change = f"{checkpoint_id}|{feedback}|{sorted((prompt_versions or {}).items())}"
    new_thread = f"{thread_id}-fork-{hashlib.sha256(change.encode()).hexdigest()[:8]}"
    await saver.adelete_thread(new_thread)
    forked_from = f"{thread_id}@{checkpoint_id}"
    new_config = runnable_config_for(new_thread, values.image_path, config, forked_from=forked_from)
    await graph.aupdate_state(
        new_config, values.model_copy(update=updates).model_dump(), as_node=as_node
    )
    started = time.perf_counter()
    with run_span(
        new_thread, autorust__run_kind="fork", autorust__forked_from=forked_from
    ) as record:
        async with (
            BatchResources.open(saver, executor=executor) as resources,
            holding(saver, new_thread, resources.holders),
        ):
            run_config = runnable_config_for(
                new_thread, values.image_path, config, resources=resources,
                forked_from=forked_from,
            )  # fmt: skip
            await graph.ainvoke(None, run_config, context=config, durability=DURABILITY)
        return record(await collect(graph, new_thread, values.image_path, started))
