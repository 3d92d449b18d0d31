"""Which files of a folder a batch works on, and why each of the others is left alone.

Every entry of the folder gets an outcome: processed, or not processed with a reason (hidden or
underscore names, sub-folders, dangling symlinks, symlinks leaving the folder, special files).
A symlink that leaves the folder is refused *without reading it*: nothing of its target (not
even the start of a hash) reaches a thread id, a folder name, a report or the database.
Files with identical bytes are one item: processed once, reported under each name.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from autorust.imaging.digest import sha256_file
from autorust.outcomes import NotProcessed

MAX_INPUT_BYTES = 50_000_000  # the image loader's limit; bigger files are not even hashed


class InputFolder(BaseModel):
    to_process: list[str]
    not_processed: list[NotProcessed]


def _reason_to_skip(entry: Path, root: Path) -> str | None:
    name = entry.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename it to process it"
    if name.startswith("."):
        return "hidden file (the name starts with '.'); rename it to process it"
    if name.startswith("_"):
        return "the name starts with '_' (drafts and helper files); rename it to process it"
    if entry.is_symlink():
        target = Path(os.readlink(entry))
        resolved = (entry.parent / target).resolve()
        if not resolved.is_relative_to(root):
            return f"symlink to {target}, outside the folder: refused (not read)"
        if not resolved.exists():
            return f"dangling symlink (its target {target} does not exist)"
    try:
        mode = entry.stat().st_mode
    except OSError as exc:
        return f"cannot inspect it ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "a folder: sub-folders are not searched (run it on its own)"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    return None


def scan_folder(folder: Path) -> InputFolder:
    """Every entry of ``folder`` (sorted by name), each to process or not with the reason."""
    root = folder.resolve()
    to_process: list[str] = []
    not_processed: list[NotProcessed] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        reason = _reason_to_skip(entry, root)
        if reason is None:
            to_process.append(str(entry))
        else:
            not_processed.append(NotProcessed(image=str(entry), reason=reason))
    return InputFolder(to_process=to_process, not_processed=not_processed)


def content_hash(path: Path) -> str:
    """SHA-256 of the file; ``OSError`` when it cannot be read, ``ValueError`` when too big."""
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise ValueError(f"{path}: {size:,} bytes is over the {MAX_INPUT_BYTES:,}-byte limit")
    return sha256_file(path)


class InputGroup(BaseModel):
    """One item: the first file with these bytes, the other names it is reported under, and
    the error that stops it before any graph run (unreadable, too big)."""

    path: str
    sha256: str | None = None
    copies: list[str] = []
    error: str | None = None


def group_by_content(paths: Iterable[str | Path]) -> list[InputGroup]:
    """Files with identical bytes collapse into one group, in first-seen order."""
    groups: list[InputGroup] = []
    by_digest: dict[str, InputGroup] = {}
    for raw in paths:
        path = Path(raw)
        try:
            digest = content_hash(path)
        except (OSError, ValueError) as exc:
            message = str(exc) if isinstance(exc, ValueError) else f"{path}: cannot read ({exc})"
            groups.append(InputGroup(path=str(path), error=message))
            continue
        if digest in by_digest:
            by_digest[digest].copies.append(str(path))
            continue
        group = InputGroup(path=str(path), sha256=digest)
        by_digest[digest] = group
        groups.append(group)
    return groups
