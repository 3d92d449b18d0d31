"""A loopback emulator of OpenAI's Batch API on top of the fake chat server.

``/v1/files`` (multipart upload, purpose=batch; ``GET /v1/files/{id}/content``) and
``/v1/batches`` (create, retrieve, cancel). A batch moves validating -> in_progress ->
completed as it is polled; each line is executed with the fake server's responder and billed
with its usage counter, exactly like a live call. ``outcome`` makes it end ``expired`` (half
the lines done) instead; a responder ``Fault`` becomes a failed line in the error file.
``submissions`` counts how often each custom_id was submitted, across all batches.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.fake_openai import Completion, FakeOpenAI, Fault, RawReply


class BatchApiEmulator(FakeOpenAI):
    def __init__(self, *args: Any, polls_to_finish: int = 2, outcome: str = "completed",
                 **kwargs: Any) -> None:  # fmt: skip
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.submissions: Counter[str] = Counter()
        self.polls_to_finish = polls_to_finish
        self.outcome = outcome
        self.hold = threading.Event()  # set: batches stay in_progress until released
        self.batch_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    # ---- files -------------------------------------------------------------------------------
    def _new_file(self, data: bytes) -> str:
        file_id = f"file-{uuid.uuid4().hex[:12]}"
        self.files[file_id] = data
        return file_id

    def _execute(self, line: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        request = line["body"]
        with self._lock:
            self.requests.append(request)
        reply = self.responder(request)
        request_id = f"req_{uuid.uuid4().hex[:12]}"
        if isinstance(reply, Fault):
            response = {"status_code": reply.status, "request_id": request_id, "body": reply.body}
            ok = False
        elif isinstance(reply, RawReply):
            raise AssertionError("a batch line cannot carry raw bytes")
        else:
            if isinstance(reply, Completion):
                body = self._completion(request, reply.content, reply.finish_reason, reply.refusal)
            else:
                content = reply if isinstance(reply, str) else json.dumps(reply)
                body = self._completion(request, content)
            response, ok = {"status_code": 200, "request_id": request_id, "body": body}, True
        out = {"id": f"batch_req_{uuid.uuid4().hex[:12]}", "custom_id": line["custom_id"],
               "response": response, "error": None}  # fmt: skip
        return out, ok

    def _finish(self, batch: dict[str, Any], status: str) -> None:
        lines = [json.loads(raw) for raw in self.files[batch["input_file_id"]].splitlines() if raw]
        todo = lines if status == "completed" else lines[: len(lines) // 2]
        outputs, errors = [], []
        for line in todo:
            out, ok = self._execute(line)
            (outputs if ok else errors).append(out)
        for line in lines[len(todo) :]:
            code = "batch_expired" if status == "expired" else "batch_cancelled"
            error = {"code": code, "message": f"this request was {status}"}
            request_id = f"batch_req_{uuid.uuid4().hex[:12]}"
            errors.append(
                {"id": request_id, "custom_id": line["custom_id"], "response": None, "error": error}
            )
        dump = lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()  # noqa: E731
        batch["output_file_id"] = self._new_file(dump(outputs)) if outputs else None
        batch["error_file_id"] = self._new_file(dump(errors)) if errors else None
        batch["request_counts"] = {"total": len(lines), "completed": len(outputs),
                                   "failed": len(errors)}  # fmt: skip
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())

    def _advance(self, batch: dict[str, Any]) -> None:
        with self.batch_lock:
            if batch["status"] in ("completed", "expired", "cancelled", "failed"):
                return
            batch["_polls"] += 1
            if batch["status"] == "validating":
                batch["status"] = "in_progress"
            elif batch["status"] == "cancelling":
                self._finish(batch, "cancelled")
            elif batch["_polls"] >= self.polls_to_finish and not self.hold.is_set():
                self._finish(batch, self.outcome)

    def _create_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        data = self.files[request["input_file_id"]]
        lines = [json.loads(raw) for raw in data.splitlines() if raw]
        ids = [line.get("custom_id") for line in lines]
        invalid = [
            {"code": "invalid_request", "line": n + 1, "message": "method/url/model mismatch"}
            for n, line in enumerate(lines)
            if line.get("method") != "POST"
            or line.get("url") != request["endpoint"]
            or line["body"].get("model") != lines[0]["body"].get("model")  # one model a batch
        ]
        if len(ids) != len(set(ids)):
            invalid.append({"code": "duplicate_custom_id", "line": None, "message": "not unique"})
        with self.batch_lock:
            self.submissions.update(ids)
        batch: dict[str, Any] = {
            "id": f"batch_{uuid.uuid4().hex[:12]}", "object": "batch",
            "endpoint": request["endpoint"], "input_file_id": request["input_file_id"],
            "completion_window": request["completion_window"], "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": int(time.time()),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": request.get("metadata"), "errors": None, "_polls": 0,
        }  # fmt: skip
        if invalid:  # validation fails the whole batch; nothing runs
            batch |= {"status": "failed", "errors": {"object": "list", "data": invalid}}
        self.batches[batch["id"]] = batch
        return batch

    @staticmethod
    def public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        chat = super()._handler()
        emulator = self

        class Handler(chat):  # type: ignore[misc, valid-type]
            def _json(self, status: int, body: dict[str, Any]) -> None:
                self._send_bytes(status, json.dumps(body).encode(), {}, "application/json")

            def do_POST(self) -> None:
                path = self.path.split("?")[0]
                if path.endswith("/chat/completions"):
                    return super().do_POST()
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if path.endswith("/files"):
                    head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                    message = BytesParser(policy=HTTP).parsebytes(head + raw)
                    parts = {p.get_param("name", header="content-disposition"): p
                             for p in message.iter_parts()}  # fmt: skip
                    assert parts["purpose"].get_content().strip() == "batch"
                    data = parts["file"].get_payload(decode=True)
                    file_id = emulator._new_file(data)
                    return self._json(200, {"id": file_id, "object": "file", "bytes": len(data),
                                            "created_at": int(time.time()),
                                            "filename": "round.jsonl", "purpose": "batch",
                                            "status": "processed"})  # fmt: skip
                if path.endswith("/batches"):
                    batch = emulator._create_batch(json.loads(raw))
                    return self._json(200, emulator.public(batch))
                if path.endswith("/cancel"):
                    batch = emulator.batches[path.split("/")[-2]]
                    with emulator.batch_lock:
                        if batch["status"] in ("validating", "in_progress"):
                            batch["status"] = "cancelling"
                    return self._json(200, emulator.public(batch))
                self._json(404, {"error": {"message": f"no route {path}"}})

            def do_GET(self) -> None:
                parts = self.path.split("?")[0].rstrip("/").split("/")
                if parts[-1] == "content" and parts[-2] in emulator.files:
                    data = emulator.files[parts[-2]]
                    return self._send_bytes(200, data, {}, "application/octet-stream")
                if parts[-2] == "batches" and parts[-1] in emulator.batches:
                    batch = emulator.batches[parts[-1]]
                    emulator._advance(batch)
                    return self._json(200, emulator.public(batch))
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        return Handler
