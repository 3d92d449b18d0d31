"""The model-server fixture's start check: a server that answers ``/v1/models`` but dies on its
first completion (llama-cpp-python built natively on an AMX CPU segfaults in ``llama_decode``,
issue 23 case 1) fails the fixture with its likely cause and the fix, not a test midway."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.model_server import start_model_server

# answers GET /v1/models, then crashes with SIGSEGV on the first POST, as the native build does
CRASHING_SERVER = """
import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        print("llama_decode: about to crash", flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)

HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_server_that_segfaults_on_its_first_completion_fails_the_fixture_clearly(
    tmp_path: Path,
) -> None:
    script = tmp_path / "crashing_server.py"
    script.write_text(CRASHING_SERVER)
    with pytest.raises(pytest.fail.Exception) as failed:
        start_model_server(tmp_path / "server.log", command=[sys.executable, str(script), "{port}"])
    message = str(failed.value)
    assert "died on its first completion" in message and "SIGSEGV" in message
    assert "GGML_NATIVE=OFF" in message and "scripts/setup.sh" in message
    assert "llama_decode: about to crash" in message  # the server's log tail
