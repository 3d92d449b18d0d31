"""Checkpoints encrypted at rest with AUTORUST_CHECKPOINT_KEY: no spec or code in plaintext in
the store (SQLite file or PostgreSQL tables), a clear one-line error without the key or with
another one, and the key never printed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.support.bad_images import copy_examples
from tests.support.postgres_server import postgres_cluster

ROOT = Path(__file__).resolve().parents[2]
KEY = "correct horse battery staple 7f3a"
ITEMS = 3


def _cli(*args: str, home: Path, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTORUST_", "OPENAI_"))}
    env |= {"AUTORUST_HOME": str(home), "COLUMNS": "200"}
    if key is not None:
        env["AUTORUST_CHECKPOINT_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "autorust.cli.main", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _secrets(replies: Path) -> list[bytes]:
    """Texts of the specs and code that a store must not hold in plaintext."""
    found: list[bytes] = []
    for script in replies.glob("*.yaml"):
        data = yaml.safe_load(script.read_text())
        for spec in data.get("vision", []):
            found.append(" ".join(spec["description"].split()[:6]).encode())
        for code in data.get("coding", []):
            found += [line.strip().encode() for line in code["source"].splitlines()
                      if len(line.strip()) > 24]  # fmt: skip
    return sorted(set(found))


def _run_batch(tmp_path: Path, key: str | None, checkpoint: str | None = None):
    replies = tmp_path / "replies"
    copy_examples(tmp_path / "images", ITEMS, replies=replies)
    home = tmp_path / ".autorust"
    extra = ["--checkpoint", checkpoint] if checkpoint else []
    done = _cli("run", str(tmp_path / "images"), "--scripted", str(replies), "--output", "quiet",
                "--out", str(tmp_path / "out"), *extra, home=home, key=key)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home, _secrets(replies)


def _file_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("checkpoints.sqlite*"))


def test_sqlite_store_holds_no_plaintext_when_encrypted(tmp_path: Path) -> None:
    home, secrets = _run_batch(tmp_path / "enc", KEY)
    stored = _file_bytes(home)
    assert secrets and stored
    leaked = [s for s in secrets if s in stored]
    assert not leaked, f"plaintext in the encrypted store: {leaked[:3]}"
    assert KEY.encode() not in stored

    # the control: without a key the same batch leaves the texts readable in the file
    plain_home, _ = _run_batch(tmp_path / "plain", None)
    assert any(s in _file_bytes(plain_home) for s in secrets)


def test_missing_or_wrong_key_is_one_clear_line(tmp_path: Path) -> None:
    home, _ = _run_batch(tmp_path, KEY)
    db = str(home / "checkpoints.sqlite")
    listed = _cli("runs", "list", "--db", db, "--jsonl", home=home, key=KEY)
    assert listed.returncode == 0, listed.stderr
    thread = yaml.safe_load(listed.stdout.splitlines()[0])["thread_id"]

    shown = _cli("runs", "show", thread, "--db", db, home=home, key=KEY)
    assert shown.returncode == 0 and "passed" in shown.stdout, shown.stdout + shown.stderr

    missing = _cli("runs", "show", thread, "--db", db, home=home)
    assert missing.returncode == 2
    assert missing.stdout.strip().splitlines() == [
        "error: this checkpoint store is encrypted: set AUTORUST_CHECKPOINT_KEY to the key it "
        "was written with"
    ], missing.stdout + missing.stderr
    wrong = _cli("runs", "show", thread, "--db", db, home=home, key="not the key")
    assert wrong.returncode == 2
    assert wrong.stdout.strip().splitlines() == [
        "error: AUTORUST_CHECKPOINT_KEY does not decrypt this checkpoint store (wrong key)"
    ], wrong.stdout + wrong.stderr
    rerun = _cli("run", str(tmp_path / "images"), "--scripted", str(tmp_path / "replies"),
                 "--output", "quiet", "--out", str(tmp_path / "out"), home=home)  # fmt: skip
    assert rerun.returncode == 2 and "is encrypted" in rerun.stdout, rerun.stdout + rerun.stderr
    for result in (shown, missing, wrong, rerun):
        assert KEY not in result.stdout + result.stderr


@pytest.mark.postgres
def test_postgres_store_encrypted_and_key_checked(tmp_path: Path) -> None:
    with postgres_cluster() as server:
        name = f"t{time.monotonic_ns()}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = server.rsplit("/", 1)[0] + f"/{name}"
        home, secrets = _run_batch(tmp_path, KEY, checkpoint=url)
        with psycopg.connect(url) as conn:
            dumped = b"".join(
                bytes(str(row), "utf-8") + b"".join(
                    bytes(v) for v in row if isinstance(v, bytes | memoryview)
                )
                for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes",
                              "autorust_replies", "autorust_store")
                for row in conn.execute(f"SELECT * FROM {table}").fetchall()
            )  # fmt: skip
        assert len(dumped) > 1000
        leaked = [s for s in secrets if s in dumped]
        assert not leaked, f"plaintext in the encrypted PostgreSQL store: {leaked[:3]}"
        listed = _cli("runs", "list", "--db", url, "--jsonl", home=home)
        assert listed.returncode == 2 and "is encrypted" in listed.stdout, listed.stdout
        listed = _cli("runs", "list", "--db", url, "--jsonl", home=home, key="wrong")
        assert listed.returncode == 2 and "wrong key" in listed.stdout, listed.stdout
        listed = _cli("runs", "list", "--db", url, "--jsonl", home=home, key=KEY)
        assert listed.returncode == 0 and len(listed.stdout.splitlines()) == ITEMS
