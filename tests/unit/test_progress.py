"""Batch progress, local and ``--server``: the rich view and the JSON lines carry each agent's
part, from the scheduler (local) or from the server's stream (``ServerActivity``)."""

from __future__ import annotations

import functools
import io
import json

from rich.console import Console

from autorust.cli.progress import (
    JsonLinesProgress,
    LiveProgress,
    agent_table,
    scheduler_loads,
    server_loads,
    server_table,
)
from autorust.outcomes import ItemResult
from autorust.runtime.item_runner import BatchEvent
from autorust.runtime.remote import ServerActivity
from autorust.runtime.scheduler import AgentScheduler


def finished(name: str) -> BatchEvent:
    result = ItemResult(image_path=name, thread_id="t", status="passed", iterations=1)
    return BatchEvent(kind="item_finished", image_path=name, result=result)


def test_server_activity_counts_steps_per_agent_and_images_in_flight() -> None:
    activity = ServerActivity()
    for node in ("vision", "confirm", "coding", "interpreter", "probe", "checker", "judge"):
        activity.step_finished(node)
    activity.in_flight = 3
    assert activity.snapshot() == {"vision": 2, "coding": 1, "interpreter": 2, "checker": 1}
    console = Console(file=io.StringIO(), width=100)
    console.print(server_table(activity))
    text = console.file.getvalue()
    assert "3" in text and "images in flight" in " ".join(text.split()) and "interpreter" in text


def test_the_live_view_shows_the_given_agent_table() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    activity = ServerActivity()
    activity.step_finished("coding")
    with LiveProgress(console, 2, functools.partial(server_table, activity)) as live:
        live.on_event(finished("a.png"))
    assert "agents on the server" in out.getvalue()
    assert "passed:1" in out.getvalue()


def test_json_lines_carry_the_agents_of_either_mode() -> None:
    activity = ServerActivity()
    activity.step_finished("checker")
    stream = io.StringIO()
    JsonLinesProgress(server_loads(activity), stream).on_event(finished("a.png"))
    line = json.loads(stream.getvalue())
    assert line["agents"]["checker"] == {"done": 1} and line["status"] == "passed"
    stream = io.StringIO()
    scheduler = AgentScheduler()
    JsonLinesProgress(scheduler_loads(scheduler), stream).on_event(finished("b.png"))
    assert set(json.loads(stream.getvalue())["agents"]) == set(scheduler.snapshot())
    console = Console(file=io.StringIO(), width=100)
    console.print(agent_table(scheduler))
    assert "queued" in console.file.getvalue()
