"""Command-line values shared by the sub-commands (light: imported by ``--help``)."""

from __future__ import annotations

from enum import StrEnum

import typer


class OutputMode(StrEnum):
    rich = "rich"
    quiet = "quiet"
    jsonl = "jsonl"


def parse_pairs(items: list[str], option: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in items]
    if any(len(pair) != 2 for pair in pairs):
        raise typer.BadParameter(f"{option} takes NAME=VALUE")
    return dict(pairs)  # type: ignore[arg-type]
