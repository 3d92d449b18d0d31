"""Command-line values shared by the sub-commands (light: imported by ``--help``)."""

from __future__ import annotations

from enum import StrEnum


class OutputMode(StrEnum):
    rich = "rich"
    quiet = "quiet"
    jsonl = "jsonl"
