"""A client for an OpenAI-compatible Batch API (OpenAI, Azure: ``/v1/files`` + ``/v1/batches``).

One round of model calls goes out as one JSONL file, one line per call::

    {"custom_id": "<thread>:<call>", "method": "POST", "url": "/v1/chat/completions",
     "body": {...the chat completion request...}}

and comes back as an output file (and an error file for failed lines), one line per call::

    {"id": "batch_req_...", "custom_id": "...", "response": {"status_code": 200,
     "request_id": "...", "body": {...chat.completion...}}, "error": null}

Batch states: validating, in_progress, finalizing, completed; failed, expired, cancelling,
cancelled. An expired or cancelled batch still delivers the lines it finished.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import openai
from pydantic import BaseModel

ENDPOINT = "/v1/chat/completions"
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})
CUSTOM_ID_CHARS = 64  # the longest custom_id some providers accept


def custom_id(thread: str, call: str) -> str:
    """Thread id + call key, short and stable: the same pending call always gets the same id."""
    digest = hashlib.sha256(f"{thread}\0{call}".encode()).hexdigest()[:20]
    return f"{thread[: CUSTOM_ID_CHARS - len(digest) - 1]}:{digest}"


class BatchLine(BaseModel):
    custom_id: str
    body: dict[str, Any]

    def jsonl(self) -> str:
        line = {"custom_id": self.custom_id, "method": "POST", "url": ENDPOINT, "body": self.body}
        return json.dumps(line, separators=(",", ":"))


class LineResult(BaseModel):
    custom_id: str
    status_code: int | None = None
    body: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == 200 and self.body is not None


class BatchFailed(RuntimeError):
    """The batch ended without results for every line (failed, or none delivered)."""


class BatchApi:
    """Submit, poll and collect batches through the ``openai`` client (any base_url)."""

    def __init__(self, client: openai.OpenAI, completion_window: str = "24h") -> None:
        self.client = client
        self.completion_window = completion_window

    def submit(self, lines: Iterable[BatchLine], metadata: dict[str, str] | None = None) -> str:
        data = "".join(line.jsonl() + "\n" for line in lines).encode()
        uploaded = self.client.files.create(file=("round.jsonl", io.BytesIO(data)), purpose="batch")
        batch = self.client.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window=self.completion_window,  # type: ignore[arg-type]
            metadata=metadata,
        )
        return batch.id

    def status(self, batch_id: str) -> Any:
        return self.client.batches.retrieve(batch_id)

    def wait(
        self,
        batch_id: str,
        poll_s: float = 30.0,
        timeout_s: float | None = None,
        on_status: Callable[[Any], None] | None = None,
    ) -> Any:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            batch = self.status(batch_id)
            if on_status is not None:
                on_status(batch)
            if batch.status in FINAL_STATES:
                return batch
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} still {batch.status} after {timeout_s}s")
            time.sleep(poll_s)

    def results(self, batch: Any) -> dict[str, LineResult]:
        """Every line the batch delivered (output and error files), by custom_id."""
        found: dict[str, LineResult] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = self.client.files.content(file_id).text
            for raw in text.splitlines():
                if raw.strip():
                    result = _parse_line(json.loads(raw))
                    found[result.custom_id] = result
        if batch.status == "failed" and not found:
            errors = getattr(batch, "errors", None)
            raise BatchFailed(f"batch {batch.id} failed: {errors}")
        return found


def _parse_line(line: dict[str, Any]) -> LineResult:
    response = line.get("response") or {}
    return LineResult(
        custom_id=line["custom_id"],
        status_code=response.get("status_code"),
        body=response.get("body"),
        error=line.get("error") or (response.get("body") or {}).get("error"),
    )
