"""Live batch progress: an overall bar plus queued/running/done per agent (rich), or JSON lines.

A local batch shows its scheduler's load; a ``--server`` batch what the server's stream
reports (images in flight, steps finished per agent)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autorust.runtime.item_runner import BatchEvent
from autorust.runtime.scheduler import AgentScheduler

if TYPE_CHECKING:
    from autorust.runtime.remote import ServerActivity


def agent_table(scheduler: AgentScheduler) -> Table:
    mode = f"adaptive, budget {scheduler.budget}" if scheduler.adaptive else "fixed limits"
    table = Table("agent", "queued", "running", "done", "limit", title=f"agents ({mode})")
    for agent, load in scheduler.snapshot().items():
        table.add_row(
            agent, str(load.queued), str(load.running), str(load.done), str(load.limit or "-")
        )
    return table


def server_table(activity: ServerActivity) -> Table:
    title = f"agents on the server ({activity.in_flight} images in flight)"
    table = Table("agent", "steps done", title=title)
    for agent, steps in activity.snapshot().items():
        table.add_row(agent, str(steps))
    return table


def scheduler_loads(scheduler: AgentScheduler) -> Callable[[], dict[str, object]]:
    return lambda: {agent: load.model_dump() for agent, load in scheduler.snapshot().items()}


def server_loads(activity: ServerActivity) -> Callable[[], dict[str, object]]:
    return lambda: {agent: {"done": steps} for agent, steps in activity.snapshot().items()}


class LiveProgress:
    """Context manager; pass ``on_event`` to the batch. ``table`` renders the agents' part."""

    def __init__(self, console: Console, total: int, table: Callable[[], Table]) -> None:
        self.table = table
        self.counts: dict[str, int] = {}
        self.progress = Progress(
            TextColumn("[bold]images"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("images", total=total, counts="")
        self.live = Live(
            self._render(), console=console, refresh_per_second=4, get_renderable=self._render
        )

    def _render(self) -> Group:
        return Group(self.progress, self.table())

    def on_event(self, event: BatchEvent) -> None:
        if event.kind == "item_finished" and event.result is not None:
            self.counts[event.result.status] = self.counts.get(event.result.status, 0) + 1
            counts = " ".join(f"{status}:{n}" for status, n in sorted(self.counts.items()))
            self.progress.update(self.task, advance=1, counts=counts)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)  # type: ignore[arg-type]


class JsonLinesProgress:
    """One JSON object per event on stdout, for scripts."""

    def __init__(
        self, agents: Callable[[], dict[str, object]], stream: TextIO | None = None
    ) -> None:
        self.agents = agents  # the "agents" field of each line
        self.stream = stream or sys.stdout  # looked up now: stdout may be replaced after import

    def on_event(self, event: BatchEvent) -> None:
        record: dict[str, object] = {
            "time": round(time.time(), 3),
            "event": event.kind,
            "image": event.image_path,
        }
        if event.reason is not None:
            record["reason"] = event.reason
        if event.result is not None:
            record |= event.result.model_dump(mode="json", exclude={"state", "image_path"})
        record["agents"] = self.agents()
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()
