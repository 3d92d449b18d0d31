"""Batch reports: summary.json, a self-contained report.html, and summary.md."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from autorust.outcomes import ItemResult, NotProcessed
from autorust.reporting.cap_savings import CapSaving, cap_savings, describe
from autorust.reporting.usage import PriceTable, UsageSummary, summarize_usage

REPORT_CARDS = 200  # a card embeds its images (16-70 KB): 20,000 of them made a 318 MB page


class ItemSummary(BaseModel):
    image: str
    thread_id: str | None
    status: str
    iterations: int
    duration_s: float
    error: str | None = None
    title: str | None = None
    score: float | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    skipped: bool = False
    resumed: bool = False
    duplicate_of: str | None = None


class BatchSummary(BaseModel):
    created: str
    total: int = Field(description="images processed (each name of identical files counts)")
    counts: dict[str, int]
    items: list[ItemSummary]
    not_processed: list[NotProcessed] = Field(
        default_factory=list, description="files of the folder left alone, each with the reason"
    )
    usage: UsageSummary
    model_provider: str = ""
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    cap_savings: list[CapSaving] = Field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        """Only ``passed`` counts: failed, error, unverified or any other status does not."""
        return self.total > 0 and self.counts.get("passed", 0) == self.total


def summarize(
    results: list[ItemResult],
    prices: PriceTable | None = None,
    not_processed: list[NotProcessed] | None = None,
) -> BatchSummary:
    usage = UsageSummary()
    items: list[ItemSummary] = []
    counts: dict[str, int] = {}
    provider, versions = "", {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
        state = result.state
        item_usage = summarize_usage(state.model_calls if state else [], prices)
        if result.duplicate_of is None:  # a copy's tokens were spent once, for the original
            usage.merge(item_usage)
        if state is not None:
            provider = provider or state.model_provider
            versions = versions or state.prompt_versions
        items.append(
            ItemSummary(
                image=result.image_path,
                thread_id=result.thread_id,
                status=result.status,
                iterations=result.iterations,
                duration_s=result.duration_s,
                error=result.error,
                title=state.spec.title if state and state.spec else None,
                score=state.verdict.score if state and state.verdict else None,
                input_tokens=item_usage.total.input_tokens,
                cached_input_tokens=item_usage.total.cached_input_tokens,
                output_tokens=item_usage.total.output_tokens,
                cost_usd=item_usage.total.cost_usd,
                skipped=result.skipped,
                resumed=result.resumed,
                duplicate_of=result.duplicate_of,
            )
        )
    return BatchSummary(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        total=len(results),
        counts=counts,
        items=items,
        not_processed=not_processed or [],
        usage=usage,
        model_provider=provider,
        prompt_versions=versions,
        cap_savings=cap_savings(items),
    )


def _notes(item: ItemSummary) -> str:
    notes = []
    if item.skipped:
        notes.append("skipped: finished in an earlier run (its figures)")
    elif item.resumed:
        notes.append("resumed")
    if item.duplicate_of:
        notes.append(f"same bytes as {Path(item.duplicate_of).name}: processed once")
    return "; ".join(notes)


def _not_processed_html(summary: BatchSummary) -> str:
    if not summary.not_processed:
        return ""
    rows = "\n".join(
        f"<tr><td>{html.escape(Path(entry.image).name)}</td><td>{html.escape(entry.reason)}</td></tr>"
        for entry in summary.not_processed
    )
    return (
        f"<h2>Not processed ({len(summary.not_processed)})</h2>"
        f"<table><tr><th>file</th><th>reason</th></tr>\n{rows}\n</table>"
    )


def render_html(results: list[ItemResult], summary: BatchSummary) -> str:
    from autorust.reporting.cards import card, page

    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    banner = (
        '<div class="banner">SCRIPTED MODEL: replies were replayed from files; no real model '
        "was called.</div>"
        if summary.model_provider == "scripted"
        else ""
    )
    # images finished in an earlier run keep their card in that run's report: here one row
    # each, so a rerun of a big folder does not re-render (and re-embed) every image
    fresh = [(r, i) for r, i in zip(results, summary.items, strict=True) if not i.skipped]
    if len(fresh) > REPORT_CARDS:  # what did not pass first; the rest as one row each
        fresh.sort(key=lambda pair: pair[1].status == "passed")
    cards = [card(r, i, _notes(i)) for r, i in fresh[:REPORT_CARDS]]
    rest = [i for _, i in fresh[REPORT_CARDS:]]
    not_processed = (
        f"; {len(summary.not_processed)} files not processed" if summary.not_processed else ""
    )
    total = summary.usage.total
    cost = f", ${total.cost_usd:.4f}" if total.cost_usd is not None else ""
    versions = ", ".join(f"{agent} {v}" for agent, v in sorted(summary.prompt_versions.items()))
    head = f"""<h1>autorust batch report</h1>{banner}
<p>{summary.total} images: {html.escape(counts)}{not_processed}. Created {summary.created}.
Tokens: {total.input_tokens:,} in ({total.cached_input_tokens:,} cached), \
{total.output_tokens:,} out{cost}.
Prompt versions: {html.escape(versions or "-")}.</p>"""
    tail = _rows_html(
        rest,
        f"more images of this run (over {REPORT_CARDS} cards; each has its result folder)",
    ) + _rows_html(
        [item for item in summary.items if item.skipped],
        "finished in an earlier run (their cards are in that run's report, their results in "
        "their folders)",
    )
    return page(cards, summary.counts, head, tail + _not_processed_html(summary))


def _rows_html(earlier: list[ItemSummary], title: str) -> str:
    if not earlier:
        return ""
    rows = "\n".join(
        f"<tr><td>{html.escape(Path(item.image).name)}</td><td>{html.escape(item.status)}</td>"
        f"<td>{'' if item.score is None else f'{item.score:.2f}'}</td>"
        f"<td>{html.escape(item.thread_id or '')}</td></tr>"
        for item in earlier
    )
    return (
        f"<h2>{len(earlier)} {html.escape(title)}</h2>"
        f"<table><tr><th>image</th><th>status</th><th>score</th><th>thread</th></tr>\n"
        f"{rows}\n</table>"
    )


def md_cell(text: str, limit: int = 160) -> str:
    """One table cell whatever the text: no line breaks, pipes escaped, bounded length."""
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("\\", "\\\\").replace("|", "\\|")


def render_markdown(summary: BatchSummary) -> str:
    not_processed = (
        f"; {len(summary.not_processed)} files not processed" if summary.not_processed else ""
    )
    lines = [
        "# autorust batch summary",
        "",
        f"{summary.total} images: "
        + ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
        + not_processed,
        "",
        "| image | status | iterations | score | time (s) | tokens in/out | notes | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in summary.items:
        score = f"{item.score:.2f}" if item.score is not None else ""
        lines.append(
            f"| {md_cell(Path(item.image).name, 80)} | {md_cell(item.status)} | {item.iterations} "
            f"| {score} | {item.duration_s:.1f} | {item.input_tokens}/{item.output_tokens} "
            f"| {md_cell(_notes(item))} | {md_cell(item.error or '')} |"
        )
    if summary.not_processed:
        lines += ["", "## Not processed", "", "| file | reason |", "|---|---|"]
        lines += [
            f"| {md_cell(Path(entry.image).name, 80)} | {md_cell(entry.reason)} |"
            for entry in summary.not_processed
        ]
    if summary.cap_savings:
        lines += ["", "## Spending caps", ""] + [f"- {describe(s)}" for s in summary.cap_savings]
    lines += [
        "",
        "| agent | calls | regenerations | tokens in | cached in | tokens out | cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for agent, usage in sorted(summary.usage.per_agent.items()):
        lines.append(
            f"| {agent} | {usage.calls} | {usage.regenerations} | {usage.input_tokens} | "
            f"{usage.cached_input_tokens} | {usage.output_tokens} | "
            + (f"${usage.cost_usd:.4f}" if usage.cost_usd is not None else "")
            + " |"
        )
    return "\n".join(lines) + "\n"


def write_reports(
    output_dir: str | Path,
    results: list[ItemResult],
    prices: PriceTable | None = None,
    *,
    not_processed: list[NotProcessed] | None = None,
) -> BatchSummary:
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(results, prices, not_processed)
    (output_dir / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    (output_dir / "report.html").write_text(render_html(results, summary), encoding="utf-8")
    (output_dir / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    return summary
