"""Logging: JSON lines to a file per batch, readable lines on stderr, secrets scrubbed.

Log records never go to stdout: with ``--output jsonl`` stdout carries the JSON events alone.

Every record passes a redaction filter (``autorust.redaction.redact``).
Records may carry ``run_id``, ``thread_id``, ``agent``, ``attempt``, ``latency_s`` and token
counts as ``extra`` fields; they become JSON keys.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from autorust.redaction import redact

# A ContextVar because RedactingFilter (a logging.Filter on handlers) has no other way to learn
# which command a record of any library logger belongs to.
RUN_ID: ContextVar[str | None] = ContextVar("autorust_run_id", default=None)
CONTEXT_FIELDS = (
    "run_id", "thread_id", "image", "agent", "attempt", "iteration", "latency_s",
    "input_tokens", "output_tokens", "retries", "regenerations", "status", "error",
)  # fmt: skip
NOISY_LOGGERS = ("httpx", "openai", "httpcore")  # prefixes: httpx2 too


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redact(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.__dict__.get("run_id") is None and (run_id := RUN_ID.get()):
            record.run_id = run_id
        return True


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str)


class _QuietLibraries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(NOISY_LOGGERS)


def setup_logging(
    log_file: str | Path | None = None, *, console_level: int = logging.WARNING
) -> None:
    """Configure the ``autorust`` loggers (idempotent: replaces handlers set up earlier)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_autorust", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.INFO)
    console = RichHandler(
        level=console_level,
        console=Console(stderr=True),
        show_path=False,
        rich_tracebacks=False,
    )
    console.addFilter(RedactingFilter())
    console.addFilter(_QuietLibraries())
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(JsonLinesFormatter())
        file_handler.addFilter(RedactingFilter())
        handlers.append(file_handler)
    for handler in handlers:
        handler._autorust = True  # type: ignore[attr-defined]
        root.addHandler(handler)
