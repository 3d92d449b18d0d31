"""Which structured-output strategy each endpoint + model accepted, kept in the run home.

``<home>/structured_output.json`` maps ``"<base_url> <model>"`` to a strategy name, so the next
call (and the next run) starts with the strategy that works instead of re-discovering it.
Writes are atomic (temp file + rename); concurrent writers keep each other's entries.

What the process last read of each file is kept with the file's identity (inode, size, mtime,
ctime): while a ``stat`` finds the file unchanged, a model call learns the remembered strategy,
or that it is already remembered, without reading the file again (or leaving the event loop).
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
Stamp = tuple[int, int, int, int]
_READ: dict[Path, tuple[Stamp, dict[str, str]]] = {}  # file -> (its stamp, what it held)
READ_FILES = 32  # distinct homes a process keeps (one, in practice)


def endpoint_key(base_url: str | None, model: str | None) -> str:
    return f"{(base_url or OPENAI_BASE_URL).rstrip('/')} {model or ''}"


def _strategy(value: str | None) -> Strategy | None:
    try:
        return Strategy(value) if value else None
    except ValueError:
        return None


class StrategyMemory:
    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / FILE_NAME

    def _stamp(self) -> Stamp | None:
        try:
            found = self.path.stat()
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns

    def _read(self) -> dict[str, str]:
        stamp = self._stamp()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        if stamp is not None and stamp == self._stamp():  # not replaced while being read
            if len(_READ) >= READ_FILES:
                _READ.clear()
            _READ[self.path] = (stamp, data)
        return data

    def known(self) -> dict[str, str] | None:
        """What the file holds, when it is unchanged since this process read it (one ``stat``,
        no read); None when it must be read (``get``)."""
        found = _READ.get(self.path)
        if found is None or found[0] != self._stamp():
            return None
        return found[1]

    def recall(self, base_url: str | None, model: str | None) -> tuple[bool, Strategy | None]:
        """(True, the remembered strategy) from ``known``; (False, None) when it must be read."""
        entries = self.known()
        if entries is None:
            return False, None
        return True, _strategy(entries.get(endpoint_key(base_url, model)))

    def get(self, base_url: str | None, model: str | None) -> Strategy | None:
        return _strategy(self._read().get(endpoint_key(base_url, model)))

    def remember(self, base_url: str | None, model: str | None, strategy: Strategy) -> None:
        key = endpoint_key(base_url, model)
        with _LOCK:
            data = dict(self._read())  # the copy is written; what was read stays as read
            if data.get(key) == strategy.value:
                return
            data[key] = strategy.value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".structured_output.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
