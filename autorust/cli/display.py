"""Rich rendering of a run: spec, then code, execution and verdict for every iteration."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from autorust.graph.state import Attempt, Spec
from autorust.llm.scripted import SCRIPTED_MODEL_NAME
from autorust.outcomes import ItemResult
from autorust.reporting.cap_savings import describe
from autorust.reporting.report import BatchSummary
from autorust.reporting.review import review_lines

STATUS_STYLE = {
    "passed": "bold green",
    "failed": "bold red",
    "error": "bold red",
    "running": "yellow",
    "unverified": "bold yellow",
    "budget_exceeded": "bold magenta",  # a spending cap stopped it; a rerun continues it
}
NOT_PROCESSED_ROWS = 50
SUMMARY_ROWS = 50


def scripted_banner() -> Panel:
    return Panel(
        f"[bold]SCRIPTED MODEL[/bold]: {SCRIPTED_MODEL_NAME}.\n"
        "Replies are replayed from files; the sandbox, tests and checkpoints are real.\n"
        "Configure a real model with AUTORUST_DEFAULT__MODEL (see README).",
        style="yellow",
        title="offline demo",
    )


def spec_panel(spec: Spec) -> Panel:
    tests = Table("test", "input", "expected", box=None, show_header=True)
    for t in spec.tests:
        shown = (t.call or repr(t.stdin), t.expected or repr(t.expected_stdout))
        tests.add_row(escape(t.name), *(escape(s) for s in shown))
    body = Group(
        f"[bold]{escape(spec.title)}[/bold] ({spec.kind}, {spec.interface})",
        escape(spec.description),
        tests,
    )
    return Panel(body, title="spec (vision)", border_style="cyan")


def attempt_panel(attempt: Attempt) -> Panel:
    execution, verdict = attempt.execution, attempt.verdict
    tests = Table("test", "result", "input", "expected", "actual", box=None)
    for t in execution.tests:
        mark = "[green]PASS[/green]" if t.passed else "[red]FAIL[/red]"
        name = t.name + (" (reviewer)" if t.source == "reviewer" else "")
        actual = t.exception or t.error or t.actual
        shown_input = t.call if t.call is not None else repr(t.stdin)
        tests.add_row(name, mark, escape(shown_input[:60]), escape(str(t.expected)[:40]),
                      escape(str(actual)[:80]))  # fmt: skip
    verdict_style = "green" if verdict.passed else "red"
    run_line = (
        f"exit {execution.exit_code} · {execution.duration_s:.2f}s · {execution.backend}"
        + (" · TIMED OUT" if execution.timed_out else "")
        + (" · output truncated" if execution.truncated else "")
    )
    parts: list = [
        Syntax(attempt.code.source, "python", line_numbers=True),
        f"[dim]interpreter:[/dim] {run_line}",
        tests,
        f"[{verdict_style}]checker: {'PASS' if verdict.passed else 'FAIL'}[/{verdict_style}] "
        f"score {verdict.score:.2f} · {escape(verdict.evidence)}",
    ]
    parts.extend(f"[yellow]tests changed:[/yellow] {escape(c)}" for c in verdict.tests_changed)
    parts.extend(f"[yellow]warning:[/yellow] {w}" for w in execution.warnings)
    if verdict.feedback and not verdict.passed:
        parts.append(f"[dim]feedback to coding:[/dim]\n{escape(verdict.feedback)}")
    return Panel(
        Group(*parts), title=f"iteration {attempt.iteration + 1}", border_style=verdict_style
    )


def show_item(console: Console, result: ItemResult) -> None:
    style = STATUS_STYLE.get(result.status, "white")
    note = (
        " (already finished: skipped)" if result.skipped else " (resumed)" if result.resumed else ""
    )
    if result.duplicate_of:
        note += f" (same bytes as {result.duplicate_of})"
    name = escape(repr(result.image_path)[1:-1])
    console.rule(f"{name} -> [{style or 'bold'}]{result.status}[/{style or 'bold'}]{escape(note)}")
    if result.error:
        unverified = result.status == "unverified"
        label = "[yellow]unverified:[/yellow]" if unverified else "[red]error:[/red]"
        console.print(f"{label} {escape(result.error)}")
    state = result.state
    if state is None:
        return
    if state.spec:
        console.print(spec_panel(state.spec))
    for attempt in state.attempts:
        console.print(attempt_panel(attempt))
    if review := review_lines(state):
        console.print(Panel("\n".join(escape(line) for line in review), title="review",
                            border_style="magenta"))  # fmt: skip


def summary_table(summary: BatchSummary) -> Table:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    table = Table("image", "status", "iterations", "score", "time", "tokens", title=counts)
    # bounded in the terminal: what this run did first (what did not pass first of all),
    # then images finished earlier; the rest is in summary.md and report.html
    order = summary.items
    if len(order) > SUMMARY_ROWS:
        order = sorted(order, key=lambda i: (i.skipped, i.status == "passed"))
    for item in order[:SUMMARY_ROWS]:
        style = STATUS_STYLE.get(item.status, "bold")
        note = " (skipped: done earlier)" if item.skipped else ""
        if item.duplicate_of:
            note += f" (same bytes as {escape(item.duplicate_of.rsplit('/', 1)[-1])!r})"
        table.add_row(
            escape(repr(item.image.rsplit("/", 1)[-1])[1:-1]),
            f"[{style}]{item.status}[/{style}]{note}",
            str(item.iterations),
            f"{item.score:.2f}" if item.score is not None else "",
            f"{item.duration_s:.1f}s",
            f"{item.input_tokens + item.output_tokens:,}",
        )
    if len(order) > SUMMARY_ROWS:
        more = len(order) - SUMMARY_ROWS
        table.add_row(f"... {more} more", "[dim]see summary.md / report.html[/dim]", "", "", "", "")
    for entry in summary.not_processed[:NOT_PROCESSED_ROWS]:
        name = escape(repr(entry.image.rsplit("/", 1)[-1])[1:-1])
        table.add_row(name, f"[dim]not processed: {escape(entry.reason)}[/dim]", "", "", "", "")
    if len(summary.not_processed) > NOT_PROCESSED_ROWS:
        more = len(summary.not_processed) - NOT_PROCESSED_ROWS
        table.add_row(
            f"... {more} more", "[dim]not processed (see summary.md)[/dim]", "", "", "", ""
        )
    total = summary.usage.total
    cached = f" ({total.cached_input_tokens:,} cached)" if total.cached_input_tokens else ""
    table.caption = f"tokens: {total.input_tokens:,} in{cached} / {total.output_tokens:,} out" + (
        f" · ${total.cost_usd:.4f}" if total.cost_usd is not None else ""
    )
    table.caption += "".join(f"\n{escape(describe(s))}" for s in summary.cap_savings)
    return table
