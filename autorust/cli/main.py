"""The ``autorust`` command line.

Kept light at import: ``autorust --help`` loads typer and rich only; each command imports
what it uses (LangGraph, model clients, imaging) when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from autorust.cli.errors import clear_errors
from autorust.cli.mcp_command import mcp
from autorust.cli.options import OutputMode
from autorust.cli.runs import runs_app

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

app = typer.Typer(
    no_args_is_help=True,
    help="autorust: an image of a programming task in, verified code out.",
)
console = Console()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"autorust {version('autorust')}")
        except PackageNotFoundError:
            print("autorust (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """autorust: an image of a programming task in, verified code out."""


ScriptedOpt = Annotated[
    Path | None,
    typer.Option(help="replay scripted replies from this folder instead of calling a model"),
]
MaxIterOpt = Annotated[
    int | None,
    typer.Option("--max-iterations", "-n", help="coding attempts", show_default="from config: 3"),
]
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
    str | None,
    typer.Option(
        "--db",
        "--checkpoint",
        help="checkpoint store: SQLite file or postgresql:// URL (default .autorust/...; the "
        "same --db as the runs commands; --checkpoint is its older name)",
    ),
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


def _output_mode(value: str) -> str:
    """A plain check: typer's enum conversion words a bad value "Value error, 'json' is ..."."""
    modes = [mode.value for mode in OutputMode]
    if value not in modes:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(map(repr, modes))}")
    return value


ModeOpt = Annotated[
    str, typer.Option("--output", callback=_output_mode, help="rich | quiet | jsonl")
]
DetailsOpt = Annotated[
    bool | None,
    typer.Option(
        "--details/--no-details",
        help="print every iteration of each image",
        show_default="details for 5 images or fewer",
    ),
]


def _run(**options: Any) -> None:
    """``run`` and ``demo``: the options -> a plan (every offline check, in order) -> the
    model endpoints probed -> the plan run (which probes its checkpoint store and sandbox
    first); a problem is one line and exit code 2."""
    from autorust.cli.planning import RunRequest, plan_batch
    from autorust.cli.probes import check_model_endpoints
    from autorust.cli.running import command_console, run_plan
    from autorust.runtime.batch_api_session import cli_batch_api

    request = RunRequest(**options)
    out = command_console(request.output, console)
    plan = plan_batch(request)
    for note in plan.notes:
        out.print(note)
    check_model_endpoints(plan.config, plan.model_agents)
    with cli_batch_api(request.batch_api, request.checkpoint) as collector:
        code = run_plan(plan, out, batch_api=collector)
    if code:
        raise typer.Exit(code)


@app.command()
@clear_errors
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
    max_cost: Annotated[
        float | None,
        typer.Option(
            help="stop starting model calls that could take the batch over this cost "
            "(prices.toml currency); those images end budget_exceeded, resumable"
        ),
    ] = None,
    max_item_cost: Annotated[float | None, typer.Option(help="the same cap per image")] = None,
    max_item_tokens: Annotated[
        int | None, typer.Option(help="input + output tokens cap per image")
    ] = None,
    batch_api: Annotated[
        bool, typer.Option(help="send model calls as provider batches (/v1/batches): half price")
    ] = False,
    output: ModeOpt = OutputMode.rich.value,
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
    _run(
        path=path,
        scripted=scripted,
        max_iterations=max_iterations,
        prompt_versions=prompt_version,
        executor=executor,
        unsafe_subprocess=unsafe_subprocess,
        out=out,
        checkpoint=checkpoint,
        force=force,
        concurrency=concurrency,
        adaptive=adaptive,
        budget=budget,
        max_in_flight=max_in_flight,
        max_cost=max_cost,
        max_item_cost=max_item_cost,
        max_item_tokens=max_item_tokens,
        batch_api=batch_api,
        output=output,
        details=details,
        shard=shard,
        worker_id=worker_id,
        lease_seconds=lease_seconds,
        server=server,
    )


@app.command()
@clear_errors
def demo(
    out: OutOpt = None,
    executor: ExecutorOpt = None,
    unsafe_subprocess: UnsafeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Offline demo: the example images with a SCRIPTED model (real sandbox and checkpoints)."""
    _run(
        path=EXAMPLES_DIR / "images",
        scripted=EXAMPLES_DIR / "replies",
        executor=executor,
        unsafe_subprocess=unsafe_subprocess,
        out=out,
        force=force,
        details=True,
        expected_statuses=DEMO_OUTCOMES,
    )


@app.command()
@clear_errors
def init(
    path: Annotated[Path, typer.Argument(help="the file to write")] = Path("autorust.toml"),
    force: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """Write a commented autorust.toml: every setting with its default, ready to uncomment."""
    from autorust.cli.config_template import render_template
    from autorust.cli.errors import fail

    if path.exists() and not force:
        raise fail(f"{path} exists; keep it, or replace it with: autorust init --force")
    path.write_text(render_template(), encoding="utf-8")
    console.print(f"wrote {path}: every setting with its default, commented out", highlight=False)


@app.command()
@clear_errors
def doctor() -> None:
    """Show the configuration each agent will use (model, endpoint, key set or not, structured
    output), check that the sandbox starts and that every model endpoint answers; exit 2 on
    any problem."""
    from autorust.cli.doctor import doctor as run_doctor

    if code := run_doctor(console):
        raise typer.Exit(code)


config_app = typer.Typer(no_args_is_help=True, help="The configuration (see also: doctor).")


@config_app.command("show")
@clear_errors
def config_show() -> None:
    """The configuration as each agent will use it, without probing endpoints or the sandbox."""
    from autorust.cli.doctor import doctor as run_doctor

    if code := run_doctor(console, probe=False):
        raise typer.Exit(code)


app.add_typer(runs_app, name="runs")
app.add_typer(config_app, name="config")
app.command("mcp")(mcp)


def main() -> None:
    from autorust import telemetry

    if telemetry.requested():  # OTEL_* set: traces for run, demo, runs resume/fork
        try:
            telemetry.setup_from_env()
        except RuntimeError as exc:
            from autorust.cli.errors import fail

            raise SystemExit(fail(str(exc)).exit_code) from None
    try:
        app()
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
