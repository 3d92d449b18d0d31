"""One item lifecycle for both batch modes (runtime/item_runner.py): the skip/resume/retry
decision, the checkpoint a retry starts from, the shared batch loop, and a ``--server`` item
that ended ``error`` continuing from its last good checkpoint like a local one (it used to be
deleted and started over)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunStatus
from autorust.outcomes import ItemResult
from autorust.runtime.item_runner import ItemBatch, Slot, last_good, next_action
from autorust.runtime.remote import ServerItemRunner

STATUSES: list[str | None] = [None, *get_args(RunStatus)]
# (status, pending next steps) -> action without --force; --force always starts over
TABLE = {
    (None, False): "start",  # no state: never started, or killed before its input was saved
    (None, True): "start",
    ("running", False): "resume",
    ("running", True): "resume",
    ("passed", False): "skip",
    ("passed", True): "resume",
    ("failed", False): "skip",
    ("failed", True): "resume",
    ("unverified", False): "skip",
    ("unverified", True): "resume",
    ("error", False): "retry_from_last_good",
    ("error", True): "resume",
    ("budget_exceeded", False): "retry_from_last_good",
    ("budget_exceeded", True): "resume",
}


def test_the_table_covers_every_status() -> None:
    assert {status for status, _ in TABLE} == set(STATUSES)


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("pending", [False, True])
@pytest.mark.parametrize("status", STATUSES)
def test_next_action(status: str | None, pending: bool, force: bool) -> None:
    expected = "start" if force else TABLE[(status, pending)]
    assert next_action(status, pending, force) == expected


def test_last_good_is_the_newest_checkpoint_with_work_left_and_no_error() -> None:
    history = [  # newest first
        ({"image_path": "a", "status": "error", "model_calls": [1, 2, 3]}, ()),
        ({"image_path": "a", "status": "running", "model_calls": [1]}, ("coding",)),
        ({"image_path": "a", "status": "running", "model_calls": []}, ("vision",)),
        ({}, ("__start__",)),
    ]
    found = last_good(history, [1, 2, 3])
    assert found is not None and found.index == 1
    assert found.lost == [2, 3] and found.as_node == "vision"  # the node that wrote index 1
    assert last_good(history, [1]) == (1, [], None)  # nothing lost: no update needed
    assert last_good(history[:1], [1, 2, 3]) is None  # no good checkpoint: start over
    stopped = [({"image_path": "a", "status": "budget_exceeded"}, ("coding",))]
    assert last_good(stopped, []) is None


class Runner:
    """An ``ItemRunner`` that finishes every image (``None`` for the drained ones)."""

    def __init__(self, drained: set[str]) -> None:
        self.drained = drained
        self.ran: list[str] = []

    async def run(self, image: Path, sha256: str, slot: Slot) -> ItemResult | None:
        async with slot:
            self.ran.append(image.name)
            if image.name in self.drained:
                return None
            return ItemResult(image_path=str(image), thread_id=sha256[:8], status="passed")


async def test_the_batch_loop_runs_identical_bytes_once_and_writes_every_folder(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name, data in [("a.png", b"A"), ("b.png", b"B"), ("a2.png", b"A"), ("c.png", b"C")]:
        (folder / name).write_bytes(data)
    images = [folder / n for n in ("a.png", "b.png", "a2.png", "c.png", "missing.png")]
    events: list[str] = []
    batch = ItemBatch(
        images,
        max_in_flight=2,
        output_dir=tmp_path / "out",
        on_event=lambda e: events.append(Path(e.image_path).name),
    )
    runner = Runner(drained={"c.png"})
    results = await batch.run_items(runner)

    assert sorted(runner.ran) == ["a.png", "b.png", "c.png"]
    assert [Path(r.image_path).name for r in results] == ["a.png", "b.png", "a2.png", "missing.png"]
    assert results[2].duplicate_of == str(images[0]) and results[2].status == "passed"
    assert results[3].status == "error" and "cannot read" in (results[3].error or "")
    assert batch.drained == [str(images[3])]
    assert sorted(events) == ["a.png", "a2.png", "b.png", "missing.png"]
    written = sorted(p.parent.name.split("-")[0] for p in (tmp_path / "out").glob("*/result.json"))
    assert written == ["a", "a2", "b", "missing"]


def _state(status: str, calls: int, next_: tuple[str, ...], checkpoint: str) -> dict[str, Any]:
    values = {"image_path": "store:abc/a.png", "status": status, "model_calls": [
        {"agent": "vision", "iteration": 0, "input_tokens": 10 + n} for n in range(calls)
    ]}  # fmt: skip
    return {"values": values, "next": list(next_), "checkpoint": {"checkpoint_id": checkpoint}}


class FakeServer:
    """The part of langgraph-sdk's client a ``--server`` batch uses, over a scripted thread
    (history newest first); every call is recorded."""

    def __init__(self, history: list[dict[str, Any]], final: dict[str, Any]) -> None:
        self.history, self.final, self.calls = history, final, []
        self.threads, self.runs, self.store = self, self, self
        self.ran = False

    async def create(self, **kwargs: Any) -> None:
        self.calls.append(("create", kwargs))

    async def delete(self, thread_id: str) -> None:
        self.calls.append(("delete", {}))
        self.history = []

    async def get_state(self, thread_id: str) -> dict[str, Any]:
        if self.ran:
            return self.final
        return self.history[0] if self.history else {"values": {}, "next": []}

    async def get_history(self, thread_id: str, *, limit: int, before: Any = None) -> list[Any]:
        self.calls.append(("get_history", {"before": before}))
        start = 0 if before is None else 1 + [h["checkpoint"] for h in self.history].index(before)
        return self.history[start : start + limit]

    async def update_state(self, thread_id: str, values: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("update_state", {"values": values, **kwargs}))
        return {"checkpoint": {"checkpoint_id": "carried"}}

    async def put_item(self, namespace: Any, key: str, value: Any) -> None:
        self.calls.append(("put_item", {"key": key}))

    async def stream(self, thread_id: str, graph_id: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.calls.append(("stream", kwargs))
        self.ran = True
        return
        yield

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for call, kwargs in self.calls if call == name]


async def _run_on(server: FakeServer, tmp_path: Path, force: bool = False) -> ItemResult:
    image = tmp_path / "a.png"
    image.write_bytes(b"png bytes")
    runner = ServerItemRunner(server, AutorustConfig(home=str(tmp_path / "home")), force=force)
    batch = ItemBatch([image], output_dir=tmp_path / "out")
    (result,) = await batch.run_items(runner)
    (folder,) = (tmp_path / "out").glob("a-*")
    assert json.loads((folder / "result.json").read_text())["status"] == result.status
    return result


@pytest.mark.parametrize("page", [100, 2])
async def test_a_server_error_item_retries_from_its_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """Same decision as a local batch: the thread is kept, the run continues from the last
    checkpoint before the failure, and the failed step's billed calls stay in the ledger
    (``page``: the history is read in pages of this many checkpoints)."""
    monkeypatch.setattr("autorust.runtime.remote.HISTORY_PAGE", page)
    server = FakeServer(
        history=[
            _state("error", 3, (), "failed"),
            _state("running", 1, ("coding",), "good"),
            _state("running", 0, ("vision",), "first"),
        ],
        final=_state("passed", 4, (), "done"),
    )
    result = await _run_on(server, tmp_path)

    assert server.named("delete") == [] and server.named("put_item") == []
    assert len(server.named("get_history")) == (1 if page == 100 else 2)
    (update,) = server.named("update_state")
    assert update["checkpoint"] == {"checkpoint_id": "good"} and update["as_node"] == "vision"
    assert [c["input_tokens"] for c in update["values"]["model_calls"]] == [11, 12]
    (stream,) = server.named("stream")
    assert stream["input"] is None and stream["checkpoint"] == {"checkpoint_id": "carried"}
    assert result.status == "passed" and result.resumed and not result.skipped
    assert result.image_path == str(tmp_path / "a.png")


async def test_a_server_error_item_without_a_good_checkpoint_starts_over(tmp_path: Path) -> None:
    server = FakeServer(
        history=[_state("error", 1, (), "failed"), {"values": {}, "next": ["__start__"],
                                                    "checkpoint": {"checkpoint_id": "0"}}],
        final=_state("passed", 2, (), "done"),
    )  # fmt: skip
    result = await _run_on(server, tmp_path)

    assert len(server.named("delete")) == 1 and len(server.named("put_item")) == 1
    (stream,) = server.named("stream")
    assert stream["input"]["image_path"].startswith("store:") and stream.get("checkpoint") is None
    assert result.status == "passed" and not result.resumed


@pytest.mark.parametrize(
    ("status", "next_", "force", "expected"),
    [
        ("passed", (), False, "skip"),
        ("passed", (), True, "start"),
        ("running", ("checker",), False, "resume"),
        (None, (), False, "start"),
    ],
)
async def test_server_items_follow_the_shared_decision(
    tmp_path: Path, status: str | None, next_: tuple[str, ...], force: bool, expected: str
) -> None:
    history = [_state(status, 1, next_, "last")] if status else []
    server = FakeServer(history=history, final=_state("passed", 2, (), "done"))
    result = await _run_on(server, tmp_path, force=force)

    streams = server.named("stream")
    assert result.skipped == (expected == "skip") and result.resumed == (expected == "resume")
    assert len(streams) == (0 if expected == "skip" else 1)
    assert len(server.named("put_item")) == (1 if expected == "start" else 0)
    assert len(server.named("delete")) == (1 if force else 0)
    if expected == "resume":
        assert streams[0]["input"] is None
