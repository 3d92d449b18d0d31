"""One item lifecycle for both batch modes (runtime/item_runner.py): the skip/resume/retry
decision, the checkpoint a retry starts from, the shared batch loop."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from autorust.graph.state import RunStatus
from autorust.outcomes import ItemResult
from autorust.runtime.item_runner import ItemBatch, Slot, last_good, next_action

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
