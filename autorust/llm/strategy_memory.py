"""Which structured-output strategy each endpoint + model accepted, kept in the run home.

``<home>/structured_output.json`` maps ``"<base_url> <model>"`` to a strategy name, so the next
call (and the next run) starts with the strategy that works instead of re-discovering it.
Writes are atomic (temp file + rename); concurrent writers keep each other's entries.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from autorust.llm.strategies import Strategy

FILE_NAME = "structured_output.json"
OPENAI_BASE_URL = "https://api.openai.com/v1"
_LOCK = threading.Lock()


def endpoint_key(base_url: str | None, model: str | None) -> str:
    return f"{(base_url or OPENAI_BASE_URL).rstrip('/')} {model or ''}"


class StrategyMemory:
    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / FILE_NAME

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, base_url: str | None, model: str | None) -> Strategy | None:
        value = self._read().get(endpoint_key(base_url, model))
        try:
            return Strategy(value) if value else None
        except ValueError:
            return None

    def remember(self, base_url: str | None, model: str | None, strategy: Strategy) -> None:
        key = endpoint_key(base_url, model)
        with _LOCK:
            data = self._read()
            if data.get(key) == strategy.value:
                return
            data[key] = strategy.value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".structured_output.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
