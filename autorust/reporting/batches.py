"""Per-batch report folders: ``<out>/batches/<batch id>/`` and a stable ``<out>/latest``.

Every batch writes its summary.json, summary.md and report.html into a folder of its own, so a
second batch never replaces the first's reports; ``latest`` (a relative symlink, or where the
file system has none a one-line ``latest.txt``) always names the newest batch folder.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

BATCHES = "batches"
LATEST = "latest"
LATEST_FILE = "latest.txt"


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by time (to the microsecond: two batches in one second keep their order),
    unique across processes: ``20261205-135500-123456-1a2b3c``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S-%f")
    return f"{stamp}-{secrets.token_hex(3)}"


def batch_folder(output_dir: Path, batch_id: str) -> Path:
    folder = output_dir / BATCHES / batch_id
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def point_latest(output_dir: Path, folder: Path) -> Path:
    """Make ``<out>/latest`` name ``folder`` (atomically replaced); returns the pointer."""
    target = os.path.relpath(folder, output_dir)
    link = output_dir / LATEST
    staged = output_dir / f".{LATEST}.{secrets.token_hex(4)}"
    try:
        staged.symlink_to(target, target_is_directory=True)
        if link.exists() and not link.is_symlink():
            raise OSError(f"{link} exists and is not a symlink")
        staged.replace(link)
        return link
    except OSError:
        staged.unlink(missing_ok=True)
        pointer = output_dir / LATEST_FILE
        partial = pointer.with_suffix(".partial")
        partial.write_text(target + "\n", encoding="utf-8")
        partial.replace(pointer)
        return pointer


def latest_folder(output_dir: Path) -> Path | None:
    """The newest batch folder, through either pointer."""
    link = output_dir / LATEST
    if link.is_dir():
        return link
    pointer = output_dir / LATEST_FILE
    if pointer.is_file():
        return output_dir / pointer.read_text(encoding="utf-8").strip()
    return None
