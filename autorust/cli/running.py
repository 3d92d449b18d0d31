"""``autorust run`` / ``autorust demo``, the last step: run a checked ``BatchPlan`` (locally or
on a LangGraph server), show its progress, write its reports; the exit code. And the run of
``autorust runs resume`` / ``fork`` (``continue_run``).

The probes a batch needs for its whole length (the checkpoint store, the sandbox executor, the
server) run here first, inside the batch's event loop: the executor they start is the one the
batch uses, closed in the same ``async with`` as the checkpointer.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from autorust.cli.options import OutputMode
from autorust.cli.probes import (
    check_checkpoint_store,
    check_langgraph_server,
    check_model_endpoints,
    started_executor,
)
from autorust.outcomes import ItemResult, NotProcessed
from autorust.runtime.drain import DRAINED_EXIT_CODE, Drain

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from autorust.cli.planning import BatchPlan
    from autorust.cli.progress import JsonLinesProgress
    from autorust.runtime.item_runner import EventSink

NOT_PROCESSED_SHOWN = 20


def show_not_processed(console: Console, items: list[NotProcessed]) -> None:
    if not items:
        return
    console.print(f"[yellow]{len(items)} file(s) not processed:[/yellow]")
    for item in items[:NOT_PROCESSED_SHOWN]:
        console.print(f"  {escape(Path(item.image).name)!r}: {escape(item.reason)}")
    if len(items) > NOT_PROCESSED_SHOWN:
        console.print(f"  ... and {len(items) - NOT_PROCESSED_SHOWN} more (see summary.md)")


DRAINED_REASON = "stopped by {signal} before it finished (checkpointed): run the same command again"


def _on_drain(console: Console) -> Callable[[str], None]:
    def announce(name: str) -> None:
        console.print(
            f"[yellow]{name}: draining (the steps in flight finish and are checkpointed; "
            "no new step starts). Send it again to stop at once.[/yellow]",
            soft_wrap=True,
        )

    return announce


async def _local_batch(
    plan: BatchPlan, console: Console, drain: Drain | None = None
) -> list[ItemResult]:
    drain = drain or Drain()
    task = asyncio.current_task()
    assert task is not None
    remove_handlers = drain.install(task, _on_drain(console))
    try:
        return await _local_batch_drainable(plan, console, drain)
    finally:
        remove_handlers()


async def _local_batch_drainable(
    plan: BatchPlan, console: Console, drain: Drain
) -> list[ItemResult]:
    from autorust.cli.progress import JsonLinesProgress, LiveProgress, agent_table, scheduler_loads
    from autorust.runtime.batch import BatchRun
    from autorust.storage.checkpoints import is_postgres_url, open_checkpointer
    from autorust.storage.claims import PostgresClaims

    await check_checkpoint_store("--checkpoint", plan.checkpoint)
    async with (
        started_executor(plan.config.executor) as executor,
        open_checkpointer(plan.checkpoint) as saver,
    ):
        claims = None
        if is_postgres_url(plan.checkpoint):  # several workers may share this batch
            conn = saver.conn  # type: ignore[attr-defined]
            claims = PostgresClaims(conn, plan.worker.worker_id, plan.worker.lease_s)
            await claims.setup()
        batch = BatchRun(
            plan.images, plan.config, saver, plan.options, claims=claims, drain=drain,
            output_dir=plan.output_dir, batch_api=plan.batch_api, executor=executor,
        )  # fmt: skip
        plan.drained = batch.drained
        if plan.mode is OutputMode.jsonl:
            sink = JsonLinesProgress(scheduler_loads(batch.scheduler))
            announce_not_processed(sink, plan.not_processed)
            batch.on_event = sink.on_event
            return await batch.run()
        if plan.mode is OutputMode.quiet:
            return await batch.run()
        show_not_processed(console, plan.not_processed)
        table = functools.partial(agent_table, batch.scheduler)
        with LiveProgress(console, len(plan.images), table) as live:
            batch.on_event = live.on_event
            return await batch.run()


async def _server_batch(plan: BatchPlan, console: Console) -> list[ItemResult]:
    await check_langgraph_server(plan.server or "")
    from autorust.cli.progress import JsonLinesProgress, LiveProgress, server_loads, server_table
    from autorust.runtime.remote import ServerActivity, run_on_server

    activity = ServerActivity()

    async def run(on_event: EventSink | None = None) -> list[ItemResult]:
        return await run_on_server(
            plan.server or "", plan.images, plan.config, plan.options, plan.output_dir,
            on_event=on_event, activity=activity,
        )  # fmt: skip

    if plan.mode is OutputMode.jsonl:
        sink = JsonLinesProgress(server_loads(activity))
        announce_not_processed(sink, plan.not_processed)
        return await run(sink.on_event)
    if plan.mode is OutputMode.quiet:
        return await run()
    show_not_processed(console, plan.not_processed)
    table = functools.partial(server_table, activity)
    with LiveProgress(console, len(plan.images), table) as live:
        return await run(live.on_event)


def announce_not_processed(sink: JsonLinesProgress, items: list[NotProcessed]) -> None:
    from autorust.runtime.item_runner import BatchEvent

    for item in items:
        sink.on_event(BatchEvent(kind="file_not_processed", image_path=item.image,
                                 reason=item.reason))  # fmt: skip


def batch_event(batch_id: str, reports: Path, summary: Any, drained: int = 0) -> str:
    """The last line of ``--output jsonl``: the batch's counts and where its reports are
    (``drained``: images a drain left checkpointed or not started)."""
    import json

    return json.dumps({
        "event": "batch_finished", "batch_id": batch_id, "counts": summary.counts,
        "all_passed": summary.all_passed, "items": len(summary.items), "drained": drained,
        "report": str(reports / "report.html"), "summary": str(reports / "summary.json"),
    })  # fmt: skip


def interrupted_message(force: bool) -> str:
    """What to type to continue: ``--force`` would start the finished images over."""
    if force:
        return (
            "interrupted: progress is checkpointed; to resume, run the same command "
            "WITHOUT --force (with --force every image starts over)"
        )
    return "interrupted: progress is checkpointed; run the same command again to resume"


def command_console(mode: OutputMode, console: Console) -> Console:
    """Where a batch command speaks: stderr with ``--output jsonl`` (stdout carries the JSON
    events only)."""
    return Console(stderr=True) if mode is OutputMode.jsonl else console


def run_plan(plan: BatchPlan, console: Console, batch_api: Any = None) -> int:
    """Exit code: 0 when every processed image passed (or, for the demo, ended as designed),
    1 otherwise; 75 after a drain (a first SIGTERM/SIGINT: the steps in flight finished and
    were checkpointed, the summary covers the finished images); 130 when stopped at once (a
    second signal, or Ctrl-C on a server batch)."""
    from autorust.cli.display import scripted_banner, show_item, summary_table
    from autorust.reporting.batches import batch_folder, new_batch_id, point_latest
    from autorust.reporting.item_files import recorded_result
    from autorust.reporting.logs import RUN_ID, setup_logging
    from autorust.reporting.report import write_reports

    plan.batch_api = batch_api  # ``cli_batch_api``'s collector: the batch's, and its prices
    if plan.config.provider == "scripted" and plan.mode is OutputMode.rich:
        console.print(scripted_banner())
    setup_logging(plan.output_dir / "autorust.log.jsonl")
    token = RUN_ID.set(uuid.uuid4().hex[:12])
    drain = Drain()
    try:
        if plan.server:
            results = asyncio.run(_server_batch(plan, console))
        else:
            results = asyncio.run(_local_batch(plan, console, drain))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print(f"[yellow]{interrupted_message(plan.force)}[/yellow]")
        return 130
    finally:
        RUN_ID.reset(token)
    results = [recorded_result(plan.output_dir, result) for result in results]
    if plan.details and plan.mode is OutputMode.rich:
        for result in results:
            show_item(console, result)
    reason = DRAINED_REASON.format(signal=drain.control.drain_reason)
    stopped = [NotProcessed(image=image, reason=reason) for image in plan.drained]
    batch_id = new_batch_id()
    reports = batch_folder(plan.output_dir, batch_id)
    summary = write_reports(
        reports, results, plan.prices, not_processed=[*plan.not_processed, *stopped]
    )
    point_latest(plan.output_dir, reports)
    if plan.mode is OutputMode.rich:
        console.print(summary_table(summary))
        console.print(f"report: {reports / 'report.html'}")
    elif plan.mode is OutputMode.jsonl:
        print(batch_event(batch_id, reports, summary, drained=len(plan.drained)), flush=True)
    if drain.requested:  # said in every output mode, like the signal's own line
        console.print(
            f"drained: {len(results)} of {len(results) + len(plan.drained)} images "
            f"finished, {len(plan.drained)} checkpointed or not started; run the same "
            "command again to continue",
            soft_wrap=True,
            highlight=False,
        )
        return DRAINED_EXIT_CODE
    if plan.expected_statuses is not None:
        outcome = {Path(item.image).stem: item.status for item in summary.items}
        if outcome != plan.expected_statuses:
            console.print(f"[red]the demo did not end as designed: {escape(str(outcome))}[/red]")
            return 1
        return 0
    return 0 if summary.all_passed else 1


async def continue_run(
    saver: BaseCheckpointSaver, thread: str, run: Callable[..., Awaitable[ItemResult]]
) -> ItemResult:
    """``autorust runs resume`` / ``fork``: ``run(config, executor)`` with the thread's stored
    configuration, probed first (its model endpoints, its sandbox executor, which the run uses
    and this closes); a failure during the run ends the item as an error with a clear message
    (the checkpoint keeps its progress)."""
    from autorust.outcomes import failed_item
    from autorust.runtime.history import stored_config
    from autorust.runtime.runner import compile_graph, state_of

    graph = compile_graph(saver)
    config = await stored_config(graph, thread)
    check_model_endpoints(config)
    async with started_executor(config.executor) as executor:
        try:
            return await run(config, executor)
        except Exception as exc:
            state = await state_of(graph, thread)
            image = state.image_path if state else thread
            return failed_item(image, exc, thread_id=thread, state=state)
