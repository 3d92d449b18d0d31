"""OpenTelemetry traces: a span per run (with the verdict), per graph step, per model call
(GenAI semantic conventions, token counts equal to the ledger's) and per sandbox job; no
prompt text, code or key in any attribute. In memory, and through a real OTLP/HTTP receiver
on loopback fed by ``autorust run`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from autorust import telemetry
from autorust.graph.context import AutorustConfig
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from tests.support.runs import fork_at_first_coding

ROOT = Path(__file__).resolve().parents[2]
REPLIES = ROOT / "examples" / "replies"
KEY = "sk-test-0123456789abcdef-never-in-a-span"


def _forbidden_texts(stem: str) -> list[str]:
    """Spec and code texts of the scripted replies: no span may carry them."""
    data = yaml.safe_load((REPLIES / f"{stem}.yaml").read_text())
    texts = [" ".join(spec["description"].split()[:5]) for spec in data.get("vision", [])]
    for code in data.get("coding", []):
        texts += [line.strip() for line in code["source"].splitlines() if len(line.strip()) > 16]
    return [KEY, *texts]


def _assert_clean(attribute_values: list[Any], stem: str) -> None:
    text = "\n".join(str(value) for value in attribute_values)
    forbidden = _forbidden_texts(stem)
    assert len(forbidden) > 3
    leaked = [t for t in forbidden if t in text]
    assert not leaked, leaked


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.install(provider)
    try:
        yield memory
    finally:
        telemetry.install(None)
        provider.shutdown()


async def test_spans_of_one_run_in_memory(
    exporter: InMemorySpanExporter,
    scripted_config: AutorustConfig,
    example_images: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTORUST_API_KEY", KEY)
    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        result = await run_image(example_images / "palindrome.png", scripted_config, saver)
    assert result.status == "passed" and result.state is not None
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for item in spans:
        by_name.setdefault(item.name.split(" ")[0], []).append(item)

    (run,) = by_name["autorust.run"]
    assert run.attributes["autorust.status"] == "passed"
    assert run.attributes["autorust.thread_id"] == result.thread_id
    assert run.attributes["autorust.iterations"] == 2

    steps = by_name["autorust.step"]
    nodes = [s.attributes["autorust.node"] for s in steps]
    for node in ("vision", "coding", "interpreter", "checker", "judge"):
        assert node in nodes
    assert nodes.count("coding") == 2  # two attempts
    assert all(s.parent is not None and s.parent.span_id == run.context.span_id for s in steps)
    assert {s.attributes["gen_ai.agent.name"] for s in steps if "gen_ai.agent.name" in
            s.attributes} >= {"vision", "coding", "interpreter", "checker"}  # fmt: skip

    chats = by_name["chat"]
    step_ids = {s.context.span_id: s.attributes["autorust.node"] for s in steps}
    ledger = sorted(
        (c.agent, c.model, c.input_tokens, c.output_tokens) for c in result.state.model_calls
    )
    traced = sorted(
        (
            c.attributes["gen_ai.agent.name"],
            c.attributes["gen_ai.request.model"],
            c.attributes["gen_ai.usage.input_tokens"],
            c.attributes["gen_ai.usage.output_tokens"],
        )
        for c in chats
    )
    assert traced == ledger and sum(t[2] for t in traced) > 0
    for chat in chats:
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.parent is not None and chat.parent.span_id in step_ids

    jobs = by_name["autorust.sandbox"]
    executed = [a.execution for a in result.state.attempts]
    assert len(jobs) >= len(executed) == 2
    assert all(step_ids[j.parent.span_id] in ("interpreter", "probe") for j in jobs)
    assert {j.attributes["autorust.sandbox.backend"] for j in jobs} == {executed[0].backend}

    _assert_clean([v for s in spans for v in s.attributes.values()] + [s.name for s in spans],
                  "palindrome")  # fmt: skip


async def test_a_fork_and_a_resume_get_their_own_run_span_with_the_verdict(
    exporter: InMemorySpanExporter, scripted_config: AutorustConfig, example_images: Path
) -> None:
    from autorust.runtime.history import resume

    async with open_checkpointer(scripted_config.checkpoint_path) as saver:
        first, forked_at, forked = await fork_at_first_coding(
            saver, scripted_config, example_images / "palindrome.png"
        )
        resumed = await resume(saver, forked.thread_id or "")
    runs = [s for s in exporter.get_finished_spans() if s.name.startswith("autorust.run")]
    first_run, fork_run, resume_run = runs
    assert "autorust.run_kind" not in first_run.attributes
    assert fork_run.attributes["autorust.run_kind"] == "fork"
    assert fork_run.attributes["autorust.forked_from"] == f"{first.thread_id}@{forked_at}"
    assert fork_run.attributes["autorust.thread_id"] == forked.thread_id
    assert fork_run.attributes["autorust.status"] == forked.status
    assert resume_run.attributes["autorust.run_kind"] == "resume"
    assert resume_run.attributes["autorust.status"] == resumed.status
    steps_of_fork = [
        s for s in exporter.get_finished_spans()
        if s.name.startswith("autorust.step") and s.parent is not None
        and s.parent.span_id == fork_run.context.span_id
    ]  # fmt: skip
    assert steps_of_fork, "the fork's steps are children of its run span"


def test_tracing_is_off_without_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert not telemetry.requested() and not telemetry.setup_from_env()
    assert not telemetry.enabled()
    with telemetry.span("x", a=1) as current:
        assert current is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    assert telemetry.requested()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not telemetry.requested()


class _Receiver(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]
    paths: list[str]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.paths.append(self.path)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def _value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value"))


@pytest.mark.bwrap
def test_otlp_http_receiver_gets_the_spans_of_a_cli_run(tmp_path: Path) -> None:
    handler = type("Receiver", (_Receiver,), {"received": [], "paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AUTORUST_", "OPENAI_", "OTEL_"))}  # fmt: skip
        env |= {
            "AUTORUST_HOME": str(tmp_path / ".autorust"),
            "AUTORUST_OCR": "off",
            "AUTORUST_API_KEY": KEY,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
            "OTEL_SERVICE_NAME": "autorust-test",
        }
        done = subprocess.run(
            [sys.executable, "-m", "autorust.cli.main", "run",
             str(ROOT / "examples" / "images" / "sum_even.png"), "--scripted", str(REPLIES),
             "--output", "quiet", "--out", str(tmp_path / "out")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    finally:
        server.shutdown()
        server.server_close()
    assert handler.received and set(handler.paths) == {"/v1/traces"}
    spans, services = [], set()
    for request in handler.received:
        for resource_spans in request.resource_spans:
            for attr in resource_spans.resource.attributes:
                if attr.key == "service.name":
                    services.add(_value(attr.value))
            for scope in resource_spans.scope_spans:
                spans += [
                    (s.name, {a.key: _value(a.value) for a in s.attributes}) for s in scope.spans
                ]
    assert services == {"autorust-test"}
    runs = [attrs for name, attrs in spans if name == "autorust.run"]
    assert len(runs) == 1 and runs[0]["autorust.status"] == "passed"
    chats = [attrs for name, attrs in spans if name.startswith("chat ")]
    assert {c["gen_ai.agent.name"] for c in chats} >= {"vision", "coding", "checker"}
    assert all(c["gen_ai.usage.input_tokens"] > 0 for c in chats)
    assert all(c["gen_ai.operation.name"] == "chat" for c in chats)
    assert any(name == "autorust.sandbox" for name, _ in spans)
    assert {a["autorust.node"] for n, a in spans if n.startswith("autorust.step")} >= {
        "vision",
        "coding",
        "interpreter",
        "checker",
        "judge",
    }
    # the CLI's own ledger (the item's log.jsonl of its model calls) equals the exported one
    (log_file,) = (tmp_path / "out").glob("sum_even-*/log.jsonl")
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    ledger = sorted((r["agent"], r["input_tokens"], r["output_tokens"]) for r in records
                    if r["event"] == "model_call")  # fmt: skip
    exported = sorted((c["gen_ai.agent.name"], c["gen_ai.usage.input_tokens"],
                       c["gen_ai.usage.output_tokens"]) for c in chats)  # fmt: skip
    assert ledger == exported and len(ledger) >= 3
    _assert_clean([v for _, attrs in spans for v in attrs.values()] + [n for n, _ in spans],
                  "sum_even")  # fmt: skip
