"""``autorust runs``: list, show, resume and fork checkpointed runs.

Light at import (``autorust --help`` loads this module): each command imports what it uses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from autorust.cli.errors import clear_errors, fail

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from autorust.graph.context import AutorustConfig
    from autorust.runtime.items import ItemResult

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


def _default_db() -> str:
    """The default checkpoint file, resolved without loading the whole configuration (which
    imports prompt templates): ``AUTORUST_HOME``, else ``home`` in autorust.toml."""
    import os
    import tomllib

    home = os.environ.get("AUTORUST_HOME")
    if home is None and Path("autorust.toml").is_file():
        try:
            home = tomllib.loads(Path("autorust.toml").read_text(encoding="utf-8")).get("home")
        except (OSError, ValueError):
            home = None  # the full check reports it when a command needs the configuration
    return str(Path(home or ".autorust") / "checkpoints.sqlite")


def _default_config() -> AutorustConfig:
    from autorust.cli.preflight import load_config

    return load_config()


def _with_saver(checkpoint: str | None, work: Callable[[BaseCheckpointSaver], Awaitable[T]]) -> T:
    import asyncio

    from autorust.cli.preflight import check_checkpoint_store
    from autorust.storage.checkpoints import open_checkpointer

    target = checkpoint or _default_db()
    if "://" not in target and not Path(target).is_file():
        raise fail(f"--db: no checkpoint database at {target}")

    async def main() -> T:
        await check_checkpoint_store("--db", target)
        async with open_checkpointer(target) as saver:
            return await work(saver)

    try:
        return asyncio.run(main())
    except LookupError as exc:  # RunNotFoundError
        if isinstance(exc, KeyError | IndexError):
            raise
        raise fail(str(exc)) from None


def _finish(result: ItemResult, out: Path | None) -> None:
    from autorust.cli.display import show_item
    from autorust.reporting.item_files import write_item

    show_item(console, result)
    if result.awaiting:
        console.print(
            f"[yellow]paused: {result.awaiting}[/yellow]\n"
            f"answer with: autorust runs resume {result.thread_id} --approve | --reject "
            "[--feedback TEXT]"
        )
    folder = write_item(out or Path(_default_config().output_dir), result)
    console.print(f"[dim]results: {folder}[/dim]")
    if result.status != "passed" and not result.awaiting:
        raise typer.Exit(1)


async def _continue(saver: BaseCheckpointSaver, thread: str, run: Callable[..., Awaitable[Any]]):
    """Resume or fork with the stored configuration, checked first; a failure during the run
    ends the item as an error with a clear message (the checkpoint keeps its progress)."""
    from autorust.cli.preflight import check_executor, check_model_endpoints, close_executor
    from autorust.runtime.history import stored_config
    from autorust.runtime.items import failed_item
    from autorust.runtime.runner import compile_graph, state_of

    graph = compile_graph(saver)
    config = await stored_config(graph, thread)
    check_model_endpoints(config)
    executor = await check_executor(config.executor)
    try:
        return await run(config)
    except Exception as exc:
        state = await state_of(graph, thread)
        image = state.image_path if state else thread
        return failed_item(image, exc, thread_id=thread, state=state)
    finally:
        await close_executor(executor)


LIST_LIMIT = 50


@runs_app.command("list")
@clear_errors
def list_runs(
    db: DbOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="newest N runs (0: all)")
    ] = LIST_LIMIT,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="only runs with this status (repeatable)"),
    ] = None,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="one JSON object per run on stdout, no table")
    ] = False,
) -> None:
    """Runs, newest first: thread, image, status, iterations, last update."""
    rows = _list_rows(db)
    if status:
        from typing import get_args

        from autorust.graph.state import RunStatus

        allowed = get_args(RunStatus)
        if unknown := sorted(set(status) - set(allowed)):
            raise fail(f"--status {unknown[0]!r} is not a status: allowed {', '.join(allowed)}")
        rows = [row for row in rows if row.status in status]
    shown = rows[:limit] if limit else rows
    if as_jsonl:
        for row in shown:
            print(row.model_dump_json())
        return
    _print_runs(shown)
    if len(shown) < len(rows):
        console.print(
            f"newest {len(shown)} of {len(rows)} runs; --limit 0 for all, --jsonl for scripts"
        )


def _print_runs(rows: list[Any]) -> None:
    from rich.table import Column, Table

    table = Table(
        Column("thread", no_wrap=True), "image", "status", "iterations",
        Column("updated", no_wrap=True), "forked from",
    )  # fmt: skip
    for row in rows:
        status = row.status + (" (awaiting approval)" if row.awaiting else "")
        table.add_row(
            row.thread_id,
            escape(Path(row.image_path).name),
            status,
            str(row.iterations),
            row.updated.strftime("%Y-%m-%d %H:%M:%S"),
            row.forked_from or "",
        )
    console.print(table)


def _list_rows(db: str | None) -> list[Any]:
    """From the run index when it is current (standard library only), else the checkpoints."""
    target = db or _default_db()
    if "://" not in target and Path(target).is_file():
        from autorust.cli.preflight import check_sqlite_file
        from autorust.storage.run_index import read_index

        check_sqlite_file("--db", Path(target))
        rows, stale = read_index(target)
        if stale:
            from autorust.storage.listing import latest_runs

            rows += _with_saver(target, lambda saver: latest_runs(saver, only=sorted(stale)))
        return sorted(rows, key=lambda row: row.updated, reverse=True)
    from autorust.storage.listing import latest_runs

    return _with_saver(target, latest_runs)


@runs_app.command()
@clear_errors
def show(thread: str, db: DbOpt = None) -> None:
    """Each checkpoint of a run: the node that produced it and spec/code/verdict at that step."""
    from rich.table import Table

    from autorust.reporting.review import review_lines
    from autorust.runtime.history import history
    from autorust.runtime.runner import compile_graph, state_of

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
            escape(row.title or ""),
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
@clear_errors
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
    from autorust.runtime.history import resume

    decision = None
    if approve is not None:
        decision = {"approved": approve, "feedback": feedback, "extra_iterations": extra_iterations}

    async def work(saver: BaseCheckpointSaver) -> ItemResult:
        return await _continue(
            saver, thread, lambda config: resume(saver, thread, decision=decision, config=config)
        )

    _finish(_with_saver(db, work), out)


@runs_app.command("fork")
@clear_errors
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
    from autorust.cli.preflight import ConfigError, check_prompt_versions, parse_pairs
    from autorust.runtime.history import fork

    if not feedback and not prompt_version:
        raise ConfigError("--feedback/--prompt-version", "give --feedback and/or --prompt-version")
    versions = parse_pairs(prompt_version, "--prompt-version")
    check_prompt_versions(versions, {"prompt_versions": versions})

    async def work(saver: BaseCheckpointSaver) -> ItemResult:
        return await _continue(
            saver,
            thread,
            lambda config: fork(
                saver,
                thread,
                checkpoint_id,
                feedback=feedback,
                prompt_versions=versions,
                config=config,
            ),
        )

    _finish(_with_saver(db, work), out)
