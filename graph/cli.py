"""The ``autorust`` command line."""

from __future__ import annotations

import asyncio
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from graph.batch import BatchEvent, BatchOptions, BatchRun
from graph.checkpoint import open_checkpointer
from graph.config import AutorustConfig
from graph.display import scripted_banner, show_item, summary_table
from graph.logs import RUN_ID, setup_logging
from graph.progress import JsonLinesProgress, LiveProgress
from graph.report import write_reports
from graph.results import write_item
from graph.runner import ItemResult
from graph.usage import load_prices
from nodes.models import ModelNotConfiguredError, make_chat_model

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"

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


def parse_pairs(items: list[str], option: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in items]
    if any(len(pair) != 2 for pair in pairs):
        raise typer.BadParameter(f"{option} takes NAME=VALUE")
    return dict(pairs)  # type: ignore[arg-type]


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
    executor_settings = config.executor.model_copy()
    if executor:
        executor_settings.kind = executor  # type: ignore[assignment]
    if unsafe_subprocess:
        executor_settings.kind, executor_settings.allow_unsandboxed = "subprocess", True
    return config.model_copy(update={"executor": executor_settings})


def check_models(config: AutorustConfig) -> None:
    for agent in ("vision", "coding", "checker"):
        try:
            make_chat_model(agent, config)
        except ModelNotConfiguredError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None


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
) -> list[ItemResult]:
    async with open_checkpointer(checkpoint) as saver:
        batch = BatchRun(images, config, saver, options)

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
) -> None:
    check_models(config)
    images = find_images(path)
    if config.provider == "scripted" and mode is OutputMode.rich:
        console.print(scripted_banner())
    output_dir = output_dir or Path(config.output_dir)
    setup_logging(output_dir / "autorust.log.jsonl")
    token = RUN_ID.set(uuid.uuid4().hex[:12])
    try:
        results = asyncio.run(
            run_batch(
                images,
                config,
                checkpoint or str(config.checkpoint_path),
                output_dir,
                options,
                mode,
                details=len(images) <= 5 if details is None else details,
            )
        )
    except KeyboardInterrupt:
        console.print(
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
    if not summary.all_passed:
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
    execute(
        path,
        config,
        output_dir=out,
        checkpoint=checkpoint,
        options=options,
        mode=output,
        details=details,
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
    )


def _register_subcommands() -> None:
    from graph.runs_cli import runs_app

    app.add_typer(runs_app, name="runs")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
