"""``autorust runs``: list, show, resume and fork checkpointed runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from langgraph.checkpoint.base import BaseCheckpointSaver
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autorust.cli.display import show_item
from autorust.cli.options import parse_pairs
from autorust.graph.context import AutorustConfig
from autorust.reporting.item_files import write_item
from autorust.reporting.review import review_lines
from autorust.runtime.history import RunNotFoundError, fork, history, list_threads, resume
from autorust.runtime.items import ItemResult
from autorust.runtime.runner import compile_graph, state_of
from autorust.storage.checkpoints import open_checkpointer

runs_app = typer.Typer(no_args_is_help=True, help="Inspect, resume and fork checkpointed runs.")
console = Console()
T = TypeVar("T")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="checkpoint store: SQLite file or postgresql:// URL "
        "(default .autorust/checkpoints.sqlite)",
    ),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="results folder")]


def _with_saver(checkpoint: str | None, work: Callable[[BaseCheckpointSaver], Awaitable[T]]) -> T:
    target = checkpoint or str(AutorustConfig().checkpoint_path)
    if "://" not in target and not Path(target).is_file():
        console.print(f"[red]no checkpoint database at {target}[/red]")
        raise typer.Exit(2)

    async def main() -> T:
        async with open_checkpointer(target) as saver:
            return await work(saver)

    try:
        return asyncio.run(main())
    except RunNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _finish(result: ItemResult, out: Path | None) -> None:
    show_item(console, result)
    if result.awaiting:
        console.print(
            f"[yellow]paused: {result.awaiting}[/yellow]\n"
            f"answer with: autorust runs resume {result.thread_id} --approve | --reject "
            "[--feedback TEXT]"
        )
    folder = write_item(out or Path(AutorustConfig().output_dir), result)
    console.print(f"[dim]results: {folder}[/dim]")


@runs_app.command("list")
def list_runs(db: DbOpt = None) -> None:
    """Every run: thread, image, status, iterations, last update."""
    rows = _with_saver(db, list_threads)
    table = Table("thread", "image", "status", "iterations", "updated", "forked from")
    for row in rows:
        status = row.status + (" (awaiting approval)" if row.awaiting else "")
        table.add_row(
            row.thread_id,
            Path(row.image_path).name,
            status,
            str(row.iterations),
            row.updated.strftime("%Y-%m-%d %H:%M:%S"),
            row.forked_from or "",
        )
    console.print(table)


@runs_app.command()
def show(thread: str, db: DbOpt = None) -> None:
    """Each checkpoint of a run: the node that produced it and spec/code/verdict at that step."""

    async def work(saver: BaseCheckpointSaver) -> Any:
        graph = compile_graph(saver)
        return await history(graph, thread), await state_of(graph, thread)

    rows, state = _with_saver(db, work)
    table = Table(
        "checkpoint", "step", "after node", "next", "iter", "status", "spec", "code", "verdict"
    )
    for row in rows:
        table.add_row(
            row.checkpoint_id,
            str(row.step),
            row.node or f"({row.source})",
            ",".join(row.next),
            str(row.iteration),
            row.status,
            row.title or "",
            f"{row.code_lines} lines" if row.code_lines else "",
            row.verdict or "",
        )
    console.print(table)
    if state is not None and state.verdict is not None and state.verdict.evidence:
        console.print(f"evidence: {escape(state.verdict.evidence)}")
    for line in review_lines(state):
        console.print(f"review: {escape(line)}")
    if state is not None and state.status == "unverified":
        console.print(f"[yellow]unverified:[/yellow] {escape(state.error or '')}")


@runs_app.command("resume")
def resume_run(
    thread: str,
    approve: Annotated[
        bool | None, typer.Option("--approve/--reject", help="answer an approval pause")
    ] = None,
    feedback: Annotated[str | None, typer.Option(help="advice for the coder")] = None,
    extra_iterations: Annotated[int, typer.Option(help="attempts to grant after a failure")] = 1,
    db: DbOpt = None,
    out: OutOpt = None,
) -> None:
    """Continue a crashed, interrupted or paused run from its last checkpoint."""
    decision = None
    if approve is not None:
        decision = {"approved": approve, "feedback": feedback, "extra_iterations": extra_iterations}

    async def work(saver: BaseCheckpointSaver) -> ItemResult:
        return await resume(saver, thread, decision=decision)

    _finish(_with_saver(db, work), out)


@runs_app.command("fork")
def fork_run(
    thread: str,
    checkpoint_id: Annotated[str, typer.Option("--checkpoint", help="step to fork from")],
    feedback: Annotated[str | None, typer.Option(help="feedback for the next coding step")] = None,
    prompt_version: Annotated[
        list[str], typer.Option(help="AGENT=VERSION for every later step (repeatable)")
    ] = [],  # noqa: B006
    db: DbOpt = None,
    out: OutOpt = None,
) -> None:
    """Re-run from any step with new feedback or prompt versions, in a new thread."""
    if not feedback and not prompt_version:
        raise typer.BadParameter("give --feedback and/or --prompt-version")
    versions = parse_pairs(prompt_version, "--prompt-version")

    async def work(saver: BaseCheckpointSaver) -> ItemResult:
        return await fork(saver, thread, checkpoint_id, feedback=feedback, prompt_versions=versions)

    _finish(_with_saver(db, work), out)
