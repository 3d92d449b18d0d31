"""Batch runs: bad inputs, normalisation, per-agent scheduling, reports."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import AgentName
from autorust.imaging.images import load_image
from autorust.reporting.report import write_reports
from autorust.runtime.batch import BatchOptions, BatchRun
from autorust.runtime.scheduler import AgentScheduler
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples, make_awkward_copies, make_bad_corpus


async def test_bad_files_fail_alone_and_good_ones_pass(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    expected_errors = make_bad_corpus(example_images)
    images = sorted(example_images.iterdir())
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        results = await BatchRun(images, scripted_config, saver).run()
    by_name = {Path(r.image_path).name: r for r in results}
    assert len(results) == len(images)
    for name, phrase in expected_errors.items():
        assert by_name[name].status == "error", name
        assert phrase in (by_name[name].error or ""), (name, by_name[name].error)
        assert name in (by_name[name].error or "")
    for name in ("sum_even.png", "reverse_words.png", "palindrome.png"):
        assert by_name[name].status == "passed", (name, by_name[name].error)


async def test_awkward_images_are_normalised(
    scripted_config: AutorustConfig, tmp_path: Path
) -> None:
    stems = make_awkward_copies(tmp_path / "awkward")
    upright = load_image(tmp_path / "awkward" / "palindrome.jpg")
    assert upright.width > upright.height, "EXIF rotation must be applied"
    assert "EXIF orientation applied" in upright.notes
    animated = load_image(tmp_path / "awkward" / "reverse_words.gif")
    assert any("animated" in note for note in animated.notes)
    images = sorted((tmp_path / "awkward").iterdir())
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        results = await BatchRun(images, scripted_config, saver).run()
    assert sorted(Path(r.image_path).stem for r in results if r.status == "passed") == stems


def test_normalised_images_are_cached_by_content(tmp_path: Path, example_images: Path) -> None:
    cache = tmp_path / "cache"
    first = load_image(example_images / "sum_even.png", cache_dir=cache)
    assert (cache / f"{first.sha256}-2.png").read_bytes() == first.png
    again = load_image(example_images / "sum_even.png", cache_dir=cache)
    assert again.png == first.png and again.sha256 == first.sha256


async def _drive(scheduler: AgentScheduler, plan: list[tuple[str, float]]) -> dict[str, int]:
    """Start every call at once; return the peak number running per agent."""
    peak: dict[str, int] = {}

    async def call(agent: str, seconds: float) -> None:
        async with scheduler.slot(agent):
            running = scheduler.snapshot()[agent].running
            peak[agent] = max(peak.get(agent, 0), running)
            await asyncio.sleep(seconds)

    await asyncio.gather(*(call(a, s) for a, s in plan))
    return peak


async def test_fixed_limits_are_respected() -> None:
    scheduler = AgentScheduler({"coding": 2, "vision": 3})
    peak = await _drive(scheduler, [("coding", 0.02)] * 10 + [("vision", 0.02)] * 10)
    assert peak == {"coding": 2, "vision": 3}
    assert scheduler.snapshot()["coding"].done == 10


async def test_adaptive_mode_gives_idle_capacity_to_the_longest_queue() -> None:
    fixed = AgentScheduler({"coding": 2}, adaptive=False)
    adaptive = AgentScheduler({"coding": 2}, adaptive=True, budget=6)
    plan = [("coding", 0.05)] * 12
    assert (await _drive(fixed, plan))["coding"] == 2
    assert (await _drive(adaptive, plan))["coding"] == 6


async def test_adaptive_mode_serves_the_oldest_image_first() -> None:
    scheduler = AgentScheduler(adaptive=True, budget=1)
    order: list[str] = []

    async def call(agent: str, image: str, started: float) -> None:
        async with scheduler.slot(agent, started):
            order.append(f"{image}:{agent}")
            await asyncio.sleep(0.001)

    async with scheduler.slot("vision"):  # hold the only slot while queues build up
        tasks = [asyncio.create_task(call("coding", f"new{i}", 10.0 + i)) for i in range(3)]
        tasks.append(asyncio.create_task(call("checker", "old", 1.0)))
        tasks.append(asyncio.create_task(call("coding", "older", 0.5)))
        await asyncio.sleep(0.01)
        snapshot = scheduler.snapshot()
        assert snapshot["coding"].queued == 4 and snapshot["checker"].queued == 1
    await asyncio.gather(*tasks)
    # the images that started first go first, whichever agent they wait for
    assert order == ["older:coding", "old:checker", "new0:coding", "new1:coding", "new2:coding"]


async def test_an_agent_queue_serves_older_images_first() -> None:
    scheduler = AgentScheduler({"coding": 1})
    order: list[str] = []

    async def call(image: str, started: float) -> None:
        async with scheduler.slot("coding", started):
            order.append(image)

    async with scheduler.slot("coding"):
        tasks = [asyncio.create_task(call(name, at)) for name, at in (("b", 2.0), ("a", 1.0))]
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert order == ["a", "b"], "a second attempt of an older image overtakes newer images"


async def test_each_image_reaches_its_first_agent_before_the_next_starts(
    scripted_config: AutorustConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed: with 64 images in flight the first model call waited 0.25 s behind every
    image's checkpoint reads and writes (one store connection): all of them started first."""
    import autorust.runtime.batch as batch_module

    images = [p for p in copy_examples(tmp_path / "images", 6, replies=tmp_path / "replies")
              if "sales_chart" not in p.name]  # fmt: skip
    config = scripted_config.model_copy(update={"scripted_replies": str(tmp_path / "replies")})
    events: list[str] = []
    real_run_image = batch_module.run_image

    async def run_image(image, *args, **kwargs):  # type: ignore[no-untyped-def]
        events.append(f"start {Path(image).name}")
        return await real_run_image(image, *args, **kwargs)

    monkeypatch.setattr(batch_module, "run_image", run_image)
    async with open_checkpointer(config.checkpoint_path) as saver:
        batch = BatchRun(images, config, saver, BatchOptions(max_in_flight=len(images)))
        wrap = batch.scheduler.wrap

        def recording_wrap(agent, node):  # type: ignore[no-untyped-def]
            inner = wrap(agent, node)

            async def recorded(state, runtime):  # type: ignore[no-untyped-def]
                if agent == "vision":
                    events.append(f"vision {Path(state.image_path).name}")
                return await inner(state, runtime)

            return recorded

        batch.scheduler.wrap = recording_wrap  # type: ignore[method-assign]
        results = await batch.run()
    assert all(r.status == "passed" for r in results), [r.error for r in results]
    starts = [e for e in events if e.startswith("start")]
    assert len(starts) == len(images) > 2
    for event in starts[1:]:
        earlier = events[: events.index(event)]
        started = [e.split()[1] for e in earlier if e.startswith("start")]
        reached = {e.split()[1] for e in earlier if e.startswith("vision")}
        assert set(started) <= reached, f"{event} began before {started} reached vision"


def test_scheduler_rejects_zero_slots() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        AgentScheduler({"coding": 0})


async def test_reports_are_written_and_escaped(
    scripted_config: AutorustConfig, tmp_path: Path
) -> None:
    images = copy_examples(tmp_path / "imgs", 4, replies=tmp_path / "replies")
    config = scripted_config.model_copy(update={"scripted_replies": str(tmp_path / "replies")})
    (tmp_path / "imgs" / "<script>.png").write_bytes(b"not an image")
    images.append(tmp_path / "imgs" / "<script>.png")
    async with open_checkpointer(config.checkpoint_path) as saver:
        results = await BatchRun(images, config, saver, BatchOptions(adaptive=True)).run()
    summary = write_reports(tmp_path / "out", results)
    assert summary.counts == {"passed": 4, "error": 1} and not summary.all_passed
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["usage"]["total"]["input_tokens"] == sum(i["input_tokens"] for i in data["items"])
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;.png" in page
    assert page.count('alt="input" src="data:image/png;base64,') == 4  # one per readable image
    assert "SCRIPTED MODEL" in page
    assert "| palindrome__001.png | passed | 2 |" in (tmp_path / "out" / "summary.md").read_text()


async def test_a_wrapped_node_finds_its_image_by_thread_id() -> None:
    """The scheduler looks the image up by the run's thread id (no ambient ContextVar): its
    first slot request is signalled, and its calls queue by the image's start."""
    from typing import TypedDict

    from langgraph.graph import START, StateGraph

    class State(TypedDict):
        n: int

    scheduler = AgentScheduler(adaptive=True, budget=1)
    seen: list[float | None] = []
    slot = scheduler.slot

    def recording_slot(agent: str, started: float | None = None):  # type: ignore[no-untyped-def]
        seen.append(started)
        return slot(agent, started)

    scheduler.slot = recording_slot  # type: ignore[method-assign]

    async def node(state: State, runtime: object = None) -> dict[str, int]:
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    builder.add_node("coding", scheduler.wrap(AgentName.CODING, node))  # type: ignore[arg-type]
    builder.add_edge(START, "coding")
    graph = builder.compile()
    first_call = asyncio.Event()
    with scheduler.image("thread-a", first_call=first_call):
        started = scheduler._images["thread-a"].started
        result = await graph.ainvoke({"n": 1}, {"configurable": {"thread_id": "thread-a"}})
    assert result == {"n": 2} and first_call.is_set() and seen == [started]
    await graph.ainvoke({"n": 1}, {"configurable": {"thread_id": "thread-b"}})
    assert seen[-1] is None and "thread-a" not in scheduler._images
