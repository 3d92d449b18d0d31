"""Run one image through the graph with a checkpointer: start, resume, or skip if finished."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphDrained
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import RunControl

from autorust import telemetry
from autorust.graph.context import AutorustConfig
from autorust.graph.state import InputState, RunState
from autorust.graph.workflow import NodeWrapper, build_graph
from autorust.outcomes import FINISHED, ItemResult, failed_item, item_result
from autorust.runtime.identity import runnable_config_for, thread_config, thread_id_for
from autorust.runtime.item_runner import last_good, next_action
from autorust.runtime.resources import BatchResources
from autorust.storage.listing import Held, holding, index_snapshot

# Each step's checkpoint is written before the next step starts. LangGraph's default ("async")
# writes it while the next step runs, so a kill -9 during that step could lose the finished
# one: the step re-ran on resume (a sandbox run, a model call with another prompt).
DURABILITY = "sync"


def compile_graph(
    checkpointer: BaseCheckpointSaver, node_wrapper: NodeWrapper | None = None
) -> CompiledStateGraph:
    """The workflow with ``checkpointer``; each step traced when tracing is on."""
    step_wrapper = telemetry.traced_step if telemetry.enabled() else None
    return build_graph(node_wrapper, step_wrapper).compile(
        checkpointer=checkpointer, name="autorust"
    )


async def run_image(
    image_path: str | Path,
    config: AutorustConfig,
    checkpointer: BaseCheckpointSaver,
    *,
    force: bool = False,
    callbacks: list[BaseCallbackHandler] | None = None,
    graph: CompiledStateGraph | None = None,
    thread_id: str | None = None,
    control: RunControl | None = None,
    resources: BatchResources | None = None,
) -> ItemResult:
    """``_run_image`` in an ``autorust.run`` span carrying the outcome (status = verdict).
    ``resources``: the batch's; a single run opens its own on ``checkpointer``."""
    own = BatchResources.open(checkpointer) if resources is None else nullcontext(resources)
    with run_span(thread_id) as record:
        async with own as opened:
            return record(await _run_image(
                image_path, config, checkpointer, opened, force=force, callbacks=callbacks,
                graph=graph, thread_id=thread_id, control=control,
            ))  # fmt: skip


@contextmanager
def run_span(
    thread_id: str | None, **attributes: str | None
) -> Iterator[Callable[[ItemResult], ItemResult]]:
    """An ``autorust.run`` span (a first run, a resume or a fork); the caller passes its
    outcome through ``record`` (it returns it) to put the verdict on the span."""
    with telemetry.span(
        "autorust.run", autorust__thread_id=thread_id, gen_ai__agent__name="autorust",
        **attributes,
    ) as span:  # fmt: skip

        def record(result: ItemResult) -> ItemResult:
            telemetry.annotate(
                span,
                autorust__thread_id=result.thread_id,
                autorust__status=result.status,
                autorust__iterations=result.iterations,
                autorust__resumed=result.resumed,
                autorust__skipped=result.skipped,
                autorust__awaiting_approval=bool(result.awaiting),
                autorust__score=result.state.verdict.score
                if result.state is not None and result.state.verdict is not None
                else None,
            )
            return result

        yield record


async def _run_image(
    image_path: str | Path,
    config: AutorustConfig,
    checkpointer: BaseCheckpointSaver,
    resources: BatchResources,
    *,
    force: bool = False,
    callbacks: list[BaseCallbackHandler] | None = None,
    graph: CompiledStateGraph | None = None,
    thread_id: str | None = None,
    control: RunControl | None = None,
) -> ItemResult:
    """``thread_id``: when the caller has already hashed the image (a batch does).
    ``control``: LangGraph's run control; after ``request_drain()`` the run finishes and
    checkpoints the step in flight, then raises ``GraphDrained`` (see runtime/drain.py)."""
    started = time.perf_counter()
    image_path = str(image_path)
    try:
        thread_id = thread_id or thread_id_for(image_path, config)
    except OSError as exc:
        return failed_item(image_path, exc)
    graph = graph or compile_graph(checkpointer)
    runnable_config = runnable_config_for(
        thread_id, image_path, config, callbacks=callbacks, resources=resources
    )
    snapshot = await graph.aget_state(runnable_config)
    values = snapshot.values or {}
    # killed while the thread was being created (no step ran): no state, start it afresh
    existing = RunState.model_validate(values) if "image_path" in values else None
    status = existing.status if existing is not None else None
    action = next_action(status, bool(snapshot.next), force)
    if action == "skip":
        assert existing is not None
        return item_result(image_path, thread_id, existing, started, skipped=True)
    if action == "retry_from_last_good":  # not a verdict: retry the failed step
        assert existing is not None
        retry_from = await retry_point(graph, thread_id, existing)
        if retry_from is None:  # no good checkpoint: start over
            action = "start"
        else:  # continue from the last good checkpoint: finished steps are not redone
            runnable_config["configurable"].update(retry_from["configurable"])
    if action == "start":
        if force or values:
            await checkpointer.adelete_thread(thread_id)
        existing = None
    resumed = existing is not None
    graph_input = (
        None if resumed else InputState(image_path=image_path, max_iterations=config.max_iterations)
    )
    if control is not None and control.drain_requested:
        raise GraphDrained(control.drain_reason or "shutdown")  # not started: nothing to finish
    # "running" while this process lives
    async with holding(checkpointer, thread_id, resources.holders) as held:
        await graph.ainvoke(
            graph_input, runnable_config, context=config, durability=DURABILITY, control=control
        )
        # the run-index row is written in the commit that releases the thread
        return await collect(graph, thread_id, image_path, started, resumed=resumed, held=held)


async def retry_point(
    graph: CompiledStateGraph, thread_id: str, failed: RunState
) -> dict[str, Any] | None:
    """Where a rerun of an ``error`` item starts: the newest checkpoint that still had work to
    do and no error. The model calls of the failed steps (their usage was billed) are carried
    onto it, so the item's ledger keeps them."""
    history = [s async for s in graph.aget_state_history(thread_config(thread_id))]
    found = last_good([(s.values or {}, s.next) for s in history], failed.model_calls)
    if found is None:
        return None
    good = history[found.index]
    if found.as_node is None:
        return good.config
    return await graph.aupdate_state(
        good.config, {"model_calls": found.lost}, as_node=found.as_node
    )


async def state_of(graph: CompiledStateGraph, thread_id: str) -> RunState | None:
    """The thread's latest state, or None when it has none."""
    snapshot = await graph.aget_state(thread_config(thread_id))
    values = snapshot.values or {}
    return RunState.model_validate(values) if "image_path" in values else None


async def collect(
    graph: CompiledStateGraph,
    thread_id: str,
    image_path: str,
    started: float,
    *,
    resumed: bool = False,
    held: Held | None = None,
) -> ItemResult:
    """The thread's current outcome, including a pause at an approval interrupt; recorded in
    the run index for a quick ``runs list`` (with ``held``: as the run releases the thread)."""
    snapshot = await graph.aget_state(thread_config(thread_id))
    state = RunState.model_validate(snapshot.values)
    if isinstance(graph.checkpointer, BaseCheckpointSaver):
        await index_snapshot(graph.checkpointer, thread_id, state, snapshot, held)
    result = item_result(image_path, thread_id, state, started, resumed=resumed)
    if snapshot.interrupts:
        value = snapshot.interrupts[0].value
        result.awaiting = value.get("question") if isinstance(value, dict) else str(value)
    return result


__all__ = ["FINISHED", "ItemResult", "collect", "compile_graph", "run_image", "state_of"]
