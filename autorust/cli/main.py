"""The ``autorust`` command line."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field, ValidationError
from rich.console import Console

from autorust.cli.display import scripted_banner, show_item, summary_table
from autorust.cli.options import parse_pairs
from autorust.cli.progress import JsonLinesProgress, LiveProgress
from autorust.cli.runs import runs_app
from autorust.graph.context import AutorustConfig
from autorust.imaging.images import sha256_file
from autorust.imaging.ocr import OcrUnavailableError, ocr_available, require_ocr
from autorust.llm.models import ModelNotConfiguredError, make_chat_model
from autorust.reporting.item_files import write_item
from autorust.reporting.logs import RUN_ID, setup_logging
from autorust.reporting.report import write_reports
from autorust.reporting.usage import load_prices
from autorust.runtime.batch import BatchEvent, BatchOptions, BatchRun
from autorust.runtime.runner import ItemResult
from autorust.sandbox.base import ExecutorSettings
from autorust.storage.checkpoints import is_postgres_url, open_checkpointer
from autorust.storage.claims import PostgresClaims, in_shard, parse_shard

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

# How each demo image ends: five pass after the loop; word_stats gives nothing executable to
# judge code by, so it ends "unverified" (never reported as passed).
DEMO_OUTCOMES = {
    "leap_year": "passed",
    "palindrome": "passed",
    "reverse_words": "passed",
    "sales_chart": "passed",
    "sum_even": "passed",
    "word_stats": "unverified",
}

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def find_images(path: Path) -> list[Path]:
    """A file, or every visible file in a folder: non-images become per-item errors later."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is neither a file nor a folder")
    images = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
    if not images:
        raise typer.BadParameter(f"{path} holds no files to process")
    return images


def build_config(
    *,
    scripted: Path | None,
    max_iterations: int | None,
    prompt_versions: list[str],
    executor: str | None,
    unsafe_subprocess: bool,
) -> AutorustConfig:
    overrides: dict = {}
    if scripted is not None:
        overrides |= {"provider": "scripted", "scripted_replies": str(scripted)}
    if max_iterations is not None:
        overrides["max_iterations"] = max_iterations
    if prompt_versions:
        overrides["prompt_versions"] = parse_pairs(prompt_versions, "--prompt-version")
    config = AutorustConfig(**overrides)
    changes: dict[str, object] = {}
    if executor:
        changes["kind"] = executor
    if unsafe_subprocess:
        changes |= {"kind": "subprocess", "allow_unsandboxed": True}
    try:
        settings = ExecutorSettings.model_validate(config.executor.model_dump() | changes)
    except ValidationError:
        raise typer.BadParameter(
            f"--executor must be local, cloud_function or subprocess (got {executor!r})"
        ) from None
    return config.model_copy(update={"executor": settings})


def check_models(config: AutorustConfig, console: Console = console) -> None:
    """Fail before any image is touched when the configuration cannot work."""
    if config.ocr == "on":
        try:
            require_ocr()
        except OcrUnavailableError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    for agent in ("vision", "coding", "checker"):
        try:
            make_chat_model(agent, config)
        except ModelNotConfiguredError as exc:
            if agent == "vision" and config.ocr != "off" and ocr_available():
                console.print("[yellow]no vision model: specs are built from OCR text[/yellow]")
                continue
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None


class WorkerOptions(BaseModel):
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    lease_s: float = 60.0
    shard: tuple[int, int] | None = None


def _content_hash(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError:
        return "0" * 64  # unreadable: shard 0 reports its error


class OutputMode(StrEnum):
    rich = "rich"
    quiet = "quiet"
    jsonl = "jsonl"


async def run_batch(
    images: list[Path],
    config: AutorustConfig,
    checkpoint: str,
    output_dir: Path,
    options: BatchOptions,
    mode: OutputMode,
    details: bool,
    worker: WorkerOptions,
) -> list[ItemResult]:
    async with open_checkpointer(checkpoint) as saver:
        claims = None
        if is_postgres_url(checkpoint):  # several workers may share this batch
            claims = PostgresClaims(saver.conn, worker.worker_id, worker.lease_s)  # type: ignore[attr-defined]
            await claims.setup()
        batch = BatchRun(images, config, saver, options, claims=claims)

        def write_finished(event: BatchEvent) -> None:
            if event.kind == "item_finished" and event.result is not None:
                write_item(output_dir, event.result)

        if mode is OutputMode.jsonl:
            sink = JsonLinesProgress(batch.scheduler)
            batch.on_event = lambda e: (write_finished(e), sink.on_event(e))
            results = await batch.run()
        elif mode is OutputMode.quiet:
            batch.on_event = write_finished
            results = await batch.run()
        else:
            with LiveProgress(console, len(images), batch.scheduler) as live:
                batch.on_event = lambda e: (write_finished(e), live.on_event(e))
                results = await batch.run()
    if details and mode is OutputMode.rich:
        for result in results:
            show_item(console, result)
    return results


def execute(
    path: Path,
    config: AutorustConfig,
    *,
    output_dir: Path | None,
    checkpoint: str | None,
    options: BatchOptions,
    mode: OutputMode = OutputMode.rich,
    details: bool | None = None,
    worker: WorkerOptions | None = None,
    server: str | None = None,
    expected_statuses: dict[str, str] | None = None,
) -> None:
    """``expected_statuses`` (image stem -> status): the run succeeds when every image ended
    as expected (the demo); otherwise only when every image passed."""
    # with --output jsonl, stdout carries the JSON events only: messages go to stderr
    messages = Console(stderr=True) if mode is OutputMode.jsonl else console
    check_models(config, messages)
    worker = worker or WorkerOptions()
    images = find_images(path)
    if worker.shard is not None:
        images = [i for i in images if in_shard(_content_hash(i), worker.shard)]
    if config.provider == "scripted" and mode is OutputMode.rich:
        console.print(scripted_banner())
    output_dir = output_dir or Path(config.output_dir)
    setup_logging(output_dir / "autorust.log.jsonl")
    token = RUN_ID.set(uuid.uuid4().hex[:12])
    show_details = len(images) <= 5 if details is None else details
    try:
        if server:
            from autorust.runtime.remote import run_on_server  # needs the "server" extra

            results = asyncio.run(run_on_server(server, images, config, options, output_dir))
            if show_details and mode is OutputMode.rich:
                for result in results:
                    show_item(console, result)
        else:
            results = asyncio.run(
                run_batch(
                    images,
                    config,
                    checkpoint or str(config.checkpoint_path),
                    output_dir,
                    options,
                    mode,
                    details=show_details,
                    worker=worker,
                )
            )
    except KeyboardInterrupt:
        messages.print(
            "[yellow]interrupted: progress is checkpointed; run the same command again "
            "to resume[/yellow]"
        )
        raise typer.Exit(130) from None
    finally:
        RUN_ID.reset(token)
    summary = write_reports(output_dir, results, load_prices(config.price_table))
    if mode is not OutputMode.jsonl:
        console.print(summary_table(summary))
        console.print(f"report: {output_dir / 'report.html'}")
    if expected_statuses is not None:
        outcome = {Path(item.image).stem: item.status for item in summary.items}
        if outcome != expected_statuses:
            console.print(f"[red]the demo did not end as designed: {outcome}[/red]")
            raise typer.Exit(1)
    elif not summary.all_passed:
        raise typer.Exit(1)


ScriptedOpt = Annotated[
    Path | None,
    typer.Option(help="replay scripted replies from this folder instead of calling a model"),
]
MaxIterOpt = Annotated[int | None, typer.Option("--max-iterations", "-n", help="coding attempts")]
PromptOpt = Annotated[
    list[str], typer.Option("--prompt-version", help="AGENT=VERSION, e.g. coding=v1 (repeatable)")
]
ExecutorOpt = Annotated[
    str | None, typer.Option(help="local (bubblewrap sandbox) | cloud_function | subprocess")
]
UnsafeOpt = Annotated[
    bool,
    typer.Option(help="run generated code WITHOUT the sandbox (no file/network isolation)"),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="results folder")]
CheckpointOpt = Annotated[
    str | None, typer.Option(help="SQLite file or postgresql:// URL (default .autorust/...)")
]
ForceOpt = Annotated[bool, typer.Option(help="rerun images that already finished")]
ConcurrencyOpt = Annotated[
    list[str],
    typer.Option(
        "--concurrency", "-c", help="AGENT=N slots (vision, coding, interpreter, checker)"
    ),
]
AdaptiveOpt = Annotated[
    bool, typer.Option("--adaptive/--fixed", help="shift slots to the agent with the longest queue")
]
BudgetOpt = Annotated[int | None, typer.Option(help="shared slots in adaptive mode")]
InFlightOpt = Annotated[int, typer.Option(help="images worked on at once")]
ModeOpt = Annotated[OutputMode, typer.Option("--output", help="rich | quiet | jsonl")]
DetailsOpt = Annotated[
    bool | None, typer.Option("--details/--no-details", help="print every iteration of each image")
]


@app.command()
def run(
    path: Annotated[Path, typer.Argument(help="an image, or a folder of images")],
    scripted: ScriptedOpt = None,
    max_iterations: MaxIterOpt = None,
    prompt_version: PromptOpt = [],  # noqa: B006 - typer needs a literal default
    executor: ExecutorOpt = None,
    unsafe_subprocess: UnsafeOpt = False,
    out: OutOpt = None,
    checkpoint: CheckpointOpt = None,
    force: ForceOpt = False,
    concurrency: ConcurrencyOpt = [],  # noqa: B006
    adaptive: AdaptiveOpt = False,
    budget: BudgetOpt = None,
    max_in_flight: InFlightOpt = 32,
    output: ModeOpt = OutputMode.rich,
    details: DetailsOpt = None,
    shard: Annotated[
        str | None, typer.Option(help="I/N: only the images whose content hash % N == I")
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option(help="name of this worker in a shared PostgreSQL batch")
    ] = None,
    lease_seconds: Annotated[
        float, typer.Option(help="how long a dead worker's claim blocks others")
    ] = 60.0,
    server: Annotated[
        str | None, typer.Option(help="run on a LangGraph server at this URL instead")
    ] = None,
) -> None:
    """Turn task images (a file or a folder) into verified code."""
    config = build_config(
        scripted=scripted,
        max_iterations=max_iterations,
        prompt_versions=prompt_version,
        executor=executor,
        unsafe_subprocess=unsafe_subprocess,
    )
    slots = {agent: int(n) for agent, n in parse_pairs(concurrency, "--concurrency").items()}
    options = BatchOptions(
        concurrency=slots,
        adaptive=adaptive,
        budget=budget,
        max_in_flight=max_in_flight,
        force=force,
    )
    try:
        shard_range = parse_shard(shard) if shard else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    worker = WorkerOptions(lease_s=lease_seconds, shard=shard_range)
    if worker_id:
        worker.worker_id = worker_id
    execute(
        path,
        config,
        output_dir=out,
        checkpoint=checkpoint,
        options=options,
        mode=output,
        details=details,
        worker=worker,
        server=server,
    )


@app.command()
def demo(
    out: OutOpt = None,
    executor: ExecutorOpt = None,
    unsafe_subprocess: UnsafeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Offline demo: the example images with a SCRIPTED model (real sandbox and checkpoints)."""
    config = build_config(
        scripted=EXAMPLES_DIR / "replies",
        max_iterations=None,
        prompt_versions=[],
        executor=executor,
        unsafe_subprocess=unsafe_subprocess,
    )
    execute(
        EXAMPLES_DIR / "images",
        config,
        output_dir=out,
        checkpoint=None,
        options=BatchOptions(force=force),
        details=True,
        expected_statuses=DEMO_OUTCOMES,
    )


app.add_typer(runs_app, name="runs")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
