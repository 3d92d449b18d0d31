"""``autorust run`` / ``autorust demo``: check everything, then run the batch and report.

Imported only when a batch runs, so ``autorust --help`` never loads LangGraph, model clients
or imaging libraries.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.markup import escape

from autorust.cli.options import OutputMode
from autorust.cli.preflight import (
    ConfigError,
    check_checkpoint_store,
    check_executor,
    check_model_endpoints,
    check_positive,
    check_writable_dir,
    close_executor,
    load_config,
    parse_concurrency,
    with_warm_pool,
)
from autorust.graph.context import AutorustConfig
from autorust.outcomes import ItemResult, NotProcessed
from autorust.runtime.drain import DRAINED_EXIT_CODE, Drain
from autorust.runtime.inputs import content_hash, scan_folder

NOT_PROCESSED_SHOWN = 20


class WorkerOptions(BaseModel):
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    lease_s: float = 60.0
    shard: tuple[int, int] | None = None


class RunRequest(BaseModel):
    """What the command line asked for, before any checking."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    scripted: Path | None = None
    max_iterations: int | None = None
    prompt_versions: list[str] = Field(default_factory=list)
    executor: str | None = None
    unsafe_subprocess: bool = False
    out: Path | None = None
    checkpoint: str | None = None
    force: bool = False
    concurrency: list[str] = Field(default_factory=list)
    adaptive: bool = False
    budget: int | None = None
    max_in_flight: int = 32
    max_cost: float | None = None
    max_item_cost: float | None = None
    max_item_tokens: int | None = None
    batch_api: bool = False  # autorust/runtime/batch_api_session.py
    output: OutputMode = OutputMode.rich
    details: bool | None = None
    shard: str | None = None
    worker_id: str | None = None
    lease_seconds: float = 60.0
    server: str | None = None
    expected_statuses: dict[str, str] | None = Field(
        None,
        description="image stem -> status: success when every image ended as expected (the "
        "demo); otherwise success means every image passed",
    )


class BatchPlan(BaseModel):
    """A request that passed every check: nothing below can be a configuration error."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: AutorustConfig
    images: list[Path]
    not_processed: list[NotProcessed]
    output_dir: Path
    checkpoint: str
    options: Any  # BatchOptions (imported lazily)
    worker: WorkerOptions
    mode: OutputMode
    details: bool
    server: str | None
    drained: list[str] = Field(
        default_factory=list, description="images a drain stopped (filled while the batch runs)"
    )
    batch_api: Any = Field(None, description="a --batch-api session's collector (or None)")


def _overrides(request: RunRequest) -> dict[str, Any]:
    from autorust.cli.preflight import parse_pairs

    overrides: dict[str, Any] = {}
    if request.scripted is not None:
        if not request.scripted.is_dir():
            raise ConfigError("--scripted", f"{request.scripted} is not a folder of replies")
        overrides |= {"provider": "scripted", "scripted_replies": str(request.scripted)}
    if request.max_iterations is not None:
        overrides["max_iterations"] = request.max_iterations
    if request.prompt_versions:
        overrides["prompt_versions"] = parse_pairs(request.prompt_versions, "--prompt-version")
    for flag, name in (("--max-cost", "max_cost"), ("--max-item-cost", "max_item_cost"),
                       ("--max-item-tokens", "max_item_tokens")):  # fmt: skip
        value = getattr(request, name)
        if value is not None:
            if value <= 0:
                raise ConfigError(flag, f"must be a positive number, got {value}")
            overrides[name] = value
    return overrides


def _executor_settings(request: RunRequest, config: AutorustConfig, slots: int) -> AutorustConfig:
    from autorust.sandbox.base import ExecutorSettings

    changes: dict[str, object] = {}
    if request.executor:
        changes["kind"] = request.executor
    if request.unsafe_subprocess:
        changes |= {"kind": "subprocess", "allow_unsandboxed": True}
    try:
        settings = ExecutorSettings.model_validate(config.executor.model_dump() | changes)
    except ValidationError:
        raise ConfigError(
            "--executor", f"must be local, cloud_function or subprocess (got {request.executor!r})"
        ) from None
    return config.model_copy(update={"executor": with_warm_pool(settings, slots)})


def _inputs(path: Path) -> tuple[list[Path], list[NotProcessed]]:
    if path.is_dir():
        folder = scan_folder(path)
        images, skipped = [Path(p) for p in folder.to_process], folder.not_processed
        if not images:
            reasons = f" ({len(skipped)} not processed: see below)" if skipped else ""
            raise ConfigError(str(path), f"holds no files to process{reasons}")
        return images, skipped
    if path.is_file():
        return [path], []
    if path.is_symlink():
        raise ConfigError(str(path), "a dangling symlink (its target does not exist)")
    raise ConfigError(str(path), "no such file or folder")


def _in_shard(image: Path, shard: tuple[int, int]) -> bool:
    from autorust.storage.claims import in_shard

    try:
        digest = content_hash(image)
    except (OSError, ValueError):
        digest = "0" * 64  # unreadable: shard 0 reports its error
    return in_shard(digest, shard)


def check_key(agent: str, config: AutorustConfig) -> None:
    """A model named without a key or endpoint is a missing key, not a missing model."""
    from autorust.llm.models import api_key_for

    settings = config.model_for(agent)
    if config.provider == "scripted" or not settings.model or api_key_for(agent) is not None:
        return
    if settings.base_url or os.environ.get("OPENAI_BASE_URL"):
        return
    raise ConfigError(
        f"{agent} model",
        f"{settings.model!r} is configured but no API key is set. Export one:\n"
        "  export OPENAI_API_KEY=...\n"
        f"(or AUTORUST_{agent.upper()}_API_KEY / AUTORUST_API_KEY), or point it at a local "
        "OpenAI-compatible server with AUTORUST_DEFAULT__BASE_URL=http://localhost:11434/v1",
    )


def check_models(config: AutorustConfig, console: Console) -> None:
    from autorust.imaging.ocr import OcrUnavailableError, ocr_available, require_ocr
    from autorust.llm.models import ModelNotConfiguredError, make_chat_model

    if config.ocr == "on":
        try:
            require_ocr()
        except OcrUnavailableError as exc:
            raise ConfigError("AUTORUST_OCR", str(exc)) from None
    agents = []
    for agent in ("vision", "coding", "checker"):
        check_key(agent, config)
        try:
            make_chat_model(agent, config)
            agents.append(agent)
        except ModelNotConfiguredError as exc:
            if agent == "vision" and config.ocr != "off" and ocr_available():
                continue
            raise ConfigError(f"{agent} model", str(exc)) from None
    if "vision" not in agents:  # said only once the other agents have a model
        console.print("[yellow]no vision model: specs are built from OCR text[/yellow]")
    check_model_endpoints(config, agents)


def plan_batch(request: RunRequest, console: Console) -> BatchPlan:
    """Every check that needs no network or database, in the order a user would fix them."""
    from autorust.runtime.batch import BatchOptions
    from autorust.runtime.scheduler import DEFAULT_LIMITS
    from autorust.storage.claims import parse_shard

    if request.server:
        local_only = {
            "--concurrency": request.concurrency, "--adaptive": request.adaptive,
            "--budget": request.budget is not None, "--checkpoint": request.checkpoint,
            "--shard": request.shard, "--worker-id": request.worker_id,
        }  # fmt: skip
        if given := [name for name, value in local_only.items() if value]:
            raise ConfigError(
                "--server",
                "the LangGraph server schedules and checkpoints its own runs: "
                f"{', '.join(given)} cannot apply there (remove them, or run locally)",
            )
    slots = parse_concurrency(request.concurrency)
    check_positive("--budget", request.budget)
    if request.budget is not None and not request.adaptive:
        raise ConfigError("--budget", "only used with --adaptive (the shared slot budget)")
    check_positive("--max-in-flight", request.max_in_flight)
    check_positive("--lease-seconds", request.lease_seconds, whole=False)
    try:
        shard = parse_shard(request.shard) if request.shard else None
    except ValueError as exc:
        raise ConfigError("--shard", str(exc).removeprefix("--shard ")) from None
    config = load_config(**_overrides(request))
    interpreter_slots = slots.get("interpreter", DEFAULT_LIMITS["interpreter"])  # type: ignore[index]
    config = _executor_settings(request, config, interpreter_slots)
    images, not_processed = _inputs(request.path)
    if shard is not None:
        images = [image for image in images if _in_shard(image, shard)]
    output_dir = request.out or Path(config.output_dir)
    check_writable_dir("--out" if request.out else "AUTORUST_OUTPUT_DIR", output_dir)
    if not request.server:
        check_writable_dir("AUTORUST_HOME", Path(config.home))
    check_models(config, console)
    worker = WorkerOptions(lease_s=request.lease_seconds, shard=shard)
    if request.worker_id:
        worker.worker_id = request.worker_id
    return BatchPlan(
        config=config,
        images=images,
        not_processed=not_processed,
        output_dir=output_dir,
        checkpoint=request.checkpoint or str(config.checkpoint_path),
        options=BatchOptions(
            concurrency=slots,
            adaptive=request.adaptive,
            budget=request.budget,
            max_in_flight=request.max_in_flight,
            force=request.force,
        ),
        worker=worker,
        mode=request.output,
        details=len(images) <= 5 if request.details is None else request.details,
        server=request.server,
    )


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
    from autorust.cli.progress import JsonLinesProgress, LiveProgress
    from autorust.runtime.batch import BatchRun
    from autorust.runtime.item_runner import BatchEvent
    from autorust.storage.checkpoints import is_postgres_url, open_checkpointer
    from autorust.storage.claims import PostgresClaims

    await check_checkpoint_store("--checkpoint", plan.checkpoint)
    executor = await check_executor(plan.config.executor)
    try:
        async with open_checkpointer(plan.checkpoint) as saver:
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
                sink = JsonLinesProgress(batch.scheduler)
                for item in plan.not_processed:
                    sink.on_event(BatchEvent(kind="file_not_processed", image_path=item.image,
                                             reason=item.reason))  # fmt: skip
                batch.on_event = sink.on_event
                return await batch.run()
            if plan.mode is OutputMode.quiet:
                return await batch.run()
            show_not_processed(console, plan.not_processed)
            with LiveProgress(console, len(plan.images), batch.scheduler) as live:
                batch.on_event = live.on_event
                return await batch.run()
    finally:
        await close_executor(executor)


async def _server_batch(plan: BatchPlan, console: Console) -> list[ItemResult]:
    try:
        from autorust.runtime.remote import ServerUnavailableError, check_server, run_on_server
    except ImportError:
        raise ConfigError(
            "--server", "needs the server extra: pip install 'autorust[server]'"
        ) from None
    try:
        await check_server(plan.server or "")
    except ServerUnavailableError as exc:
        raise ConfigError("--server", str(exc)) from None
    if plan.mode is OutputMode.rich:
        show_not_processed(console, plan.not_processed)
    return await run_on_server(
        plan.server or "", plan.images, plan.config, plan.options, plan.output_dir
    )


def batch_event(batch_id: str, reports: Path, summary: Any, drained: int = 0) -> str:
    """The last line of ``--output jsonl``: the batch's counts and where its reports are
    (``drained``: images a drain left checkpointed or not started)."""
    import json

    return json.dumps({
        "event": "batch_finished", "batch_id": batch_id, "counts": summary.counts,
        "all_passed": summary.all_passed, "items": len(summary.items), "drained": drained,
        "report": str(reports / "report.html"), "summary": str(reports / "summary.json"),
    })  # fmt: skip


def interrupted_message(request: RunRequest) -> str:
    """What to type to continue: ``--force`` would start the finished images over."""
    if request.force:
        return (
            "interrupted: progress is checkpointed; to resume, run the same command "
            "WITHOUT --force (with --force every image starts over)"
        )
    return "interrupted: progress is checkpointed; run the same command again to resume"


def run_command(request: RunRequest, console: Console, batch_api: Any = None) -> int:
    """Exit code: 0 when every processed image passed (or, for the demo, ended as designed),
    1 otherwise; 75 after a drain (a first SIGTERM/SIGINT: the steps in flight finished and
    were checkpointed, the summary covers the finished images); 130 when stopped at once (a
    second signal, or Ctrl-C on a server batch)."""
    if request.output is OutputMode.jsonl:  # stdout carries the JSON events only
        console = Console(stderr=True)
    from autorust.cli.display import scripted_banner, show_item, summary_table
    from autorust.reporting.batches import batch_folder, new_batch_id, point_latest
    from autorust.reporting.item_files import recorded_result
    from autorust.reporting.logs import RUN_ID, setup_logging
    from autorust.reporting.report import write_reports
    from autorust.reporting.usage import load_prices

    plan = plan_batch(request, console)
    plan.batch_api = batch_api  # ``cli_batch_api``'s collector: the batch's, and its prices
    try:
        prices = load_prices(plan.config.price_table, batch=batch_api is not None)
    except (OSError, ValueError) as exc:
        raise ConfigError("AUTORUST_PRICE_TABLE", f"unusable price table ({exc})") from None
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
        console.print(f"[yellow]{interrupted_message(request)}[/yellow]")
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
    summary = write_reports(reports, results, prices, not_processed=[*plan.not_processed, *stopped])
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
    if request.expected_statuses is not None:
        outcome = {Path(item.image).stem: item.status for item in summary.items}
        if outcome != request.expected_statuses:
            console.print(f"[red]the demo did not end as designed: {escape(str(outcome))}[/red]")
            return 1
        return 0
    return 0 if summary.all_passed else 1
