"""Several worker processes share one batch through a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import yaml

from autorust.graph.state import RunState
from autorust.runtime.history import history
from autorust.runtime.runner import compile_graph
from autorust.storage.checkpoints import open_checkpointer
from tests.support.bad_images import copy_examples
from tests.support.postgres_server import postgres_cluster

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 10


@pytest.fixture(scope="module")
def database():
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def db_url(database: str) -> str:
    """A fresh database per test on the shared server."""
    name = f"t{time.monotonic_ns()}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return database.rsplit("/", 1)[0] + f"/{name}"


def start_worker(name: str, folder: Path, replies: Path, db: str, out: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env["AUTORUST_HOME"] = str(out / ".autorust")
    return subprocess.Popen(
        [sys.executable, "-m", "autorust.cli.main", "run", str(folder), "--scripted", str(replies),
         "--checkpoint", db, "--worker-id", name, "--lease-seconds", "2",
         "--max-in-flight", "2", "--output", "quiet", "--out", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def prepare(tmp_path: Path) -> tuple[Path, Path]:
    replies = tmp_path / "replies"
    copy_examples(tmp_path / "images", ITEMS, replies=replies)
    (replies / "_delays.yaml").write_text(
        yaml.safe_dump({"vision": 0.2, "coding": 0.3, "checker": 0.1})
    )
    return tmp_path / "images", replies


async def assert_each_node_ran_once_per_step(db: str) -> dict[str, RunState]:
    async with open_checkpointer(db) as saver:
        graph = compile_graph(saver)
        thread_ids = {c.config["configurable"]["thread_id"] async for c in saver.alist(None)}
        states = {}
        for thread_id in thread_ids:
            steps = await history(graph, thread_id)
            ran = Counter(step.node for step in steps if step.node)
            state = RunState.model_validate(
                (await graph.aget_state({"configurable": {"thread_id": thread_id}})).values
            )
            n = len(state.attempts)
            assert state.status == "passed", thread_id
            assert ran["vision"] == 1 and ran["coding"] == n and ran["interpreter"] == n, ran
            assert ran["checker"] == n, ran
            states[thread_id] = state
    assert len(states) == ITEMS
    return states


def claims(db: str) -> dict[str, tuple[str, int, str]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT item, status, claims, worker FROM autorust_claims").fetchall()
    return {item: (status, count, worker) for item, status, count, worker in rows}


async def test_two_workers_share_a_folder_exactly_once(tmp_path: Path, db_url: str) -> None:
    folder, replies = prepare(tmp_path)
    workers = [start_worker(n, folder, replies, db_url, tmp_path / n) for n in ("a", "b")]
    for worker in workers:
        assert worker.wait(120) == 0, worker.stderr.read() if worker.stderr else ""
    await assert_each_node_ran_once_per_step(db_url)
    table = claims(db_url)
    assert len(table) == ITEMS
    assert all(status == "done" and count == 1 for status, count, _ in table.values())
    ran_by = Counter(worker for _, _, worker in table.values())
    assert set(ran_by) == {"a", "b"}, f"both workers should get work: {ran_by}"
    summaries = [
        json.loads((tmp_path / n / "latest" / "summary.json").read_text()) for n in ("a", "b")
    ]
    done_here = Counter(i["image"] for s in summaries for i in s["items"] if not i["skipped"])
    assert len(done_here) == ITEMS and set(done_here.values()) == {1}


async def test_a_killed_workers_items_are_finished_by_the_other(
    tmp_path: Path, db_url: str
) -> None:
    folder, replies = prepare(tmp_path)
    doomed = start_worker("doomed", folder, replies, db_url, tmp_path / "doomed")
    deadline = time.monotonic() + 60
    while not any(
        status == "done" for status, _, w in claims_or_empty(db_url).values() if w == "doomed"
    ):
        assert time.monotonic() < deadline and doomed.poll() is None
        time.sleep(0.05)
    survivor = start_worker("survivor", folder, replies, db_url, tmp_path / "survivor")
    time.sleep(0.5)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    stranded = [
        i for i, (status, _, w) in claims(db_url).items() if w == "doomed" and status != "done"
    ]
    assert stranded, "the kill should leave claimed, unfinished items behind"
    assert survivor.wait(120) == 0, survivor.stderr.read() if survivor.stderr else ""
    await assert_each_node_ran_once_per_step(db_url)
    table = claims(db_url)
    assert all(status == "done" for status, _, _ in table.values())
    for item in stranded:
        assert table[item][2] == "survivor" and table[item][1] >= 2  # taken over after the lease


def claims_or_empty(db: str) -> dict[str, tuple[str, int, str]]:
    try:
        return claims(db)
    except psycopg.errors.UndefinedTable:
        return {}


def test_shard_flag_partitions_the_folder(tmp_path: Path) -> None:
    from autorust.imaging.digest import sha256_file
    from autorust.storage.claims import in_shard, parse_shard

    images = copy_examples(tmp_path / "images", 12)
    shards = [
        {p for p in images if in_shard(sha256_file(p), parse_shard(f"{i}/3"))} for i in range(3)
    ]
    assert set().union(*shards) == set(images)
    assert sum(len(s) for s in shards) == len(images)  # disjoint
    with pytest.raises(ValueError, match="I/N"):
        parse_shard("3/3")
