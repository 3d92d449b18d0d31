"""How a command reports a problem the user can fix: one line, exit code 2, no traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

F = TypeVar("F", bound=Callable[..., Any])
console = Console()


class ConfigError(ValueError):
    """A problem the user fixes in one setting: ``setting`` as they wrote it, and ``problem``."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting, self.problem = setting, problem
        super().__init__(f"{setting}: {problem}")

    def line(self) -> str:
        return " ".join(str(self).split())  # one line, whatever the underlying message


def fail(message: str) -> typer.Exit:
    """Print ``message`` (one line, or its own lines kept so commands in it can be copied);
    raise the returned ``Exit``."""
    lines = [line.rstrip() for line in message.strip().splitlines()] or [""]
    text = "\n".join([" ".join(lines[0].split()), *lines[1:]])
    console.print(f"[red]error:[/red] {escape(text)}", soft_wrap=True)
    return typer.Exit(2)


def clear_errors(command: F) -> F:
    """Configuration and look-up problems are one line naming the setting, and exit code 2."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from autorust.storage.key_errors import CheckpointKeyError

        try:
            return command(*args, **kwargs)
        except (ConfigError, CheckpointKeyError) as exc:
            raise fail(str(exc)) from None

    return guarded  # type: ignore[return-value]
