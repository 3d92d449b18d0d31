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


def fail(message: str) -> typer.Exit:
    """Print ``message`` as one error line; raise the returned ``Exit``."""
    console.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)
    return typer.Exit(2)


def clear_errors(command: F) -> F:
    """Configuration and look-up problems are one line naming the setting, and exit code 2."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from autorust.cli.preflight import ConfigError
        from autorust.storage.key_errors import CheckpointKeyError

        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            raise fail(exc.line()) from None
        except CheckpointKeyError as exc:  # an encrypted store without its key (issue 29)
            raise fail(str(exc)) from None

    return guarded  # type: ignore[return-value]
