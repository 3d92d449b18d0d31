"""``autorust runs``: list, show, resume and fork checkpointed runs.

Light at import (``autorust --help`` loads this module): each command imports what it uses.
"""

from __future__ import annotations

import asyncio
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
    from autorust.outcomes import ItemResult

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
    from autorust.cli.config_checks import load_config

    return load_config()


def _with_saver(checkpoint: str | None, work: Callable[[BaseCheckpointSaver], Awaitable[T]]) -> T:
    import asyncio

    from autorust.cli.probes import check_checkpoint_store
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


def _resolve_thread(given: str, db: str | None) -> str:
    """A full thread id, a unique prefix of one, or a result folder's name (which holds it)."""
    from autorust.cli.ids import resolve_id

    return resolve_id(given, [row.thread_id for row in _list_rows(db)], "run", "thread")


def _resolve_step(given: str, rows: list[Any], thread: str) -> str:
    """``--checkpoint``: a step number from ``autorust runs show`` or a checkpoint id (prefix)."""
    from autorust.cli.errors import ConfigError
    from autorust.cli.ids import resolve_id

    forkable = [row for row in rows if row.node is not None]
    steps = ", ".join(str(row.step) for row in forkable)
    if given.lstrip("-").isdigit() and len(given) <= 6:
        chosen = [row for row in rows if str(row.step) == given.lstrip("+")]
        if len(chosen) == 1 and chosen[0].node is not None:
            return chosen[0].checkpoint_id
        raise ConfigError(
            "--checkpoint",
            f"no step {given} to fork from in run {thread}: steps {steps} "
            f"(see autorust runs show {thread})",
        )
    try:
        checkpoint = resolve_id(given, [row.checkpoint_id for row in rows], "checkpoint",
                                "--checkpoint")  # fmt: skip
    except ConfigError as exc:
        raise ConfigError(
            "--checkpoint", f"{exc.problem} in run {thread} (steps {steps} also work)"
        ) from None
    if not any(row.checkpoint_id == checkpoint and row.node for row in rows):
        raise ConfigError("--checkpoint", "the input checkpoint has no result to fork from: "
                                          f"choose a later step ({steps})")  # fmt: skip
    return checkpoint


LIST_LIMIT = 50
WIDE_WIDTH = 400  # --wide: whole ids, whatever the terminal


@runs_app.command("list")
@clear_errors
def list_runs(
    db: DbOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="newest N runs (0: all)")
    ] = LIST_LIMIT,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="only runs with this status (repeatable, or comma-separated)"
        ),
    ] = None,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="one JSON object per run on stdout, no table")
    ] = False,
    wide: Annotated[bool, typer.Option("--wide", help="full thread ids")] = False,
    server: Annotated[
        str | None,
        typer.Option(help="the runs of a LangGraph server (autorust run --server URL) instead"),
    ] = None,
) -> None:
    """Runs, newest first: thread (shortest unique prefix; any commands takes it), image,
    status, iterations, last update."""
    rows = _server_rows(server) if server else _list_rows(db)
    if wanted := _statuses(status, also=("interrupted",)):
        rows = [row for row in rows if row.status in wanted]
    shown = rows[:limit] if limit else rows
    if as_jsonl:
        for row in shown:
            print(row.model_dump_json())
        return
    _print_runs(shown, [row.thread_id for row in rows], wide)
    if len(shown) < len(rows):
        console.print(
            f"newest {len(shown)} of {len(rows)} runs; --limit 0 for all, --jsonl for scripts"
        )


def _print_runs(rows: list[Any], every_id: list[str], wide: bool = False) -> None:
    from rich.table import Column, Table

    from autorust.cli.ids import shortest_prefixes

    short = {} if wide else shortest_prefixes(every_id)
    table = Table(
        Column("thread", no_wrap=True), Column("image", overflow="ellipsis", no_wrap=True),
        Column("status", no_wrap=True), Column("iter", justify="right", no_wrap=True),
        Column("updated", no_wrap=True), Column("forked from", overflow="ellipsis", no_wrap=True),
        box=None, pad_edge=False,
    )  # fmt: skip
    for row in rows:
        status = row.status + (" (awaiting approval)" if row.awaiting else "")
        forked = row.forked_from or ""
        if forked and not wide:
            parent = forked.partition("@")[0]
            forked = short.get(parent, parent)
        table.add_row(
            short.get(row.thread_id, row.thread_id),
            escape(Path(row.image_path).name),
            status,
            str(row.iterations),
            row.updated.strftime("%Y-%m-%d %H:%M" if not wide else "%Y-%m-%d %H:%M:%S"),
            escape(forked),
        )
    (Console(width=WIDE_WIDTH) if wide else console).print(table)


def _server_rows(url: str) -> list[Any]:
    from autorust.cli.probes import check_langgraph_server
    from autorust.runtime.remote import server_runs

    async def main() -> list[Any]:
        await check_langgraph_server(url)
        return await server_runs(url)

    return asyncio.run(main())


def _list_rows(db: str | None) -> list[Any]:
    """From the run index when it is current (standard library only), else the checkpoints."""
    target = db or _default_db()
    if "://" not in target and Path(target).is_file():
        from autorust.cli.probes import check_sqlite_file
        from autorust.storage.run_index import live_threads, mark_interrupted, read_index

        check_sqlite_file("--db", Path(target))
        rows, stale = read_index(target)
        if stale:
            from autorust.storage.listing import latest_runs

            rows += _with_saver(target, lambda saver: latest_runs(saver, only=sorted(stale)))
        live = live_threads(target)
        mark_interrupted(rows, live.__contains__)
        return sorted(rows, key=lambda row: row.updated, reverse=True)
    from autorust.storage.listing import current_runs

    return _with_saver(target, current_runs)


@runs_app.command()
@clear_errors
def show(
    thread: Annotated[str, typer.Argument(help="thread id, a unique prefix, or a result folder")],
    db: DbOpt = None,
    wide: Annotated[bool, typer.Option("--wide", help="full checkpoint ids")] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="one JSON object per checkpoint on stdout, no table")
    ] = False,
) -> None:
    """Each step of a run: the node that produced it and spec/code/verdict at that step.

    Fork from a step with ``autorust runs fork THREAD --checkpoint STEP``."""
    from rich.table import Column, Table

    from autorust.reporting.review import review_lines
    from autorust.runtime.history import history
    from autorust.runtime.runner import compile_graph, state_of

    thread = _resolve_thread(thread, db)

    async def work(saver: BaseCheckpointSaver) -> Any:
        graph = compile_graph(saver)
        return await history(graph, thread), await state_of(graph, thread)

    rows, state = _with_saver(db, work)
    if as_jsonl:
        for row in rows:
            print(row.model_dump_json())
        return
    console.print(f"run {escape(thread)}")
    table = Table(
        Column("step", justify="right", no_wrap=True, min_width=4), Column("after", no_wrap=True),
        Column("iter", justify="right", no_wrap=True, min_width=4), Column("status", no_wrap=True),
        Column("spec", overflow="ellipsis", no_wrap=True, max_width=24),
        Column("code", no_wrap=True), Column("verdict", no_wrap=True),
        box=None, pad_edge=False,
    )  # fmt: skip
    if wide:
        table.add_column("next", no_wrap=True)
        table.add_column("checkpoint", no_wrap=True)
    for row in rows:
        cells = [
            str(row.step),
            row.node or f"({row.source})",
            str(row.iteration),
            row.status,
            escape(row.title or ""),
            f"{row.code_lines} lines" if row.code_lines else "",
            row.verdict or "",
        ]
        table.add_row(*cells, *([",".join(row.next), row.checkpoint_id] if wide else []))
    (Console(width=WIDE_WIDTH) if wide else console).print(table)
    if state is not None and state.verdict is not None and state.verdict.evidence:
        console.print(f"evidence: {escape(state.verdict.evidence)}")
    for line in review_lines(state):
        console.print(f"review: {escape(line)}")
    if state is not None and state.status == "unverified":
        console.print(f"[yellow]unverified:[/yellow] {escape(state.error or '')}")


@runs_app.command("resume")
@clear_errors
def resume_run(
    thread: Annotated[str, typer.Argument(help="thread id, a unique prefix, or a result folder")],
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

    from autorust.cli.running import continue_run
    from autorust.runtime.history import is_finished

    thread = _resolve_thread(thread, db)

    async def work(saver: BaseCheckpointSaver) -> ItemResult | None:
        if await is_finished(saver, thread):
            return None
        return await continue_run(
            saver,
            thread,
            lambda config, executor: resume(
                saver, thread, decision=decision, config=config, executor=executor
            ),
        )

    result = _with_saver(db, work)
    if result is None:
        console.print(
            f"run {escape(thread)} already finished, nothing to do "
            f"(to try again from a step: autorust runs fork {escape(thread)} --checkpoint STEP "
            "--feedback TEXT)"
        )
        return
    _finish(result, out)


@runs_app.command("fork")
@clear_errors
def fork_run(
    thread: Annotated[str, typer.Argument(help="thread id, a unique prefix, or a result folder")],
    checkpoint_id: Annotated[
        str,
        typer.Option(
            "--step",
            "--checkpoint",
            help="step number (see: runs show) or checkpoint id to fork from (--checkpoint: "
            "its older name)",
        ),
    ],
    feedback: Annotated[str | None, typer.Option(help="feedback for the next coding step")] = None,
    prompt_version: Annotated[
        list[str], typer.Option(help="AGENT=VERSION for every later step (repeatable)")
    ] = [],  # noqa: B006
    db: DbOpt = None,
    out: OutOpt = None,
) -> None:
    """Re-run from any step with new feedback or prompt versions, in a new thread."""
    from autorust.cli.config_checks import check_prompt_versions, parse_pairs
    from autorust.cli.errors import ConfigError
    from autorust.runtime.history import fork

    if not feedback and not prompt_version:
        raise ConfigError("--feedback/--prompt-version", "give --feedback and/or --prompt-version")
    versions = parse_pairs(prompt_version, "--prompt-version")
    check_prompt_versions(versions, {"prompt_versions": versions})

    from autorust.cli.running import continue_run
    from autorust.runtime.history import history
    from autorust.runtime.runner import compile_graph

    thread = _resolve_thread(thread, db)

    async def work(saver: BaseCheckpointSaver) -> ItemResult:
        step = _resolve_step(checkpoint_id, await history(compile_graph(saver), thread), thread)
        return await continue_run(
            saver,
            thread,
            lambda config, executor: fork(
                saver,
                thread,
                step,
                feedback=feedback,
                prompt_versions=versions,
                config=config,
                executor=executor,
            ),
        )

    _finish(_with_saver(db, work), out)


@runs_app.command("prune")
@clear_errors
def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="age of a run's last step: 30d, 12h, 90m, 2w, 1d12h (s m h d w)"
        ),
    ],
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="only runs with this status (repeatable, or comma-separated)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list what would be deleted, delete nothing")
    ] = False,
    db: DbOpt = None,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="one JSON object per run on stdout, no table")
    ] = False,
) -> None:
    """Delete old runs: their checkpoints, run-index entry and journaled model replies.

    Result folders are left alone. On SQLite the freed pages are reused by later runs."""
    from autorust.storage.retention import parse_age, prune_runs
    from autorust.storage.run_index import now

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise fail(f"--older-than: {exc}") from None
    statuses = _statuses(status)
    cutoff = now() - age
    rows = _with_saver(db, lambda saver: prune_runs(saver, cutoff, statuses, dry_run=dry_run))
    if as_jsonl:
        for row in rows:
            print(row.model_dump_json())
        return
    if rows:
        _print_runs(rows, [row.thread_id for row in rows])
    which = f" with status {', '.join(sorted(statuses))}" if statuses else ""
    verb = "would delete" if dry_run else "deleted"
    console.print(f"{verb} {len(rows)} runs last updated more than {older_than} ago{which}")


def _statuses(given: list[str] | None, also: tuple[str, ...] = ()) -> set[str]:
    """``--status`` values (repeated or comma-separated), each checked against the statuses
    (and ``also``: e.g. ``interrupted``, which only a listing knows)."""
    from typing import get_args

    from autorust.graph.state import RunStatus

    wanted = {part.strip() for text in given or [] for part in text.split(",") if part.strip()}
    allowed = (*get_args(RunStatus), *also)
    if unknown := sorted(wanted - set(allowed)):
        raise fail(f"--status {unknown[0]!r} is not a status: allowed {', '.join(allowed)}")
    return wanted
