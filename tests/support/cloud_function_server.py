"""Start the real Cloud Function (functions-framework) and a token endpoint on loopback."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVE = """
import runpy, site, sys
for folder in {site_dirs!r}:
    site.addsitedir(folder)
sys.argv = ["functions-framework", *sys.argv[1:]]
runpy.run_module("functions_framework", run_name="__main__")
"""


def world_readable_python() -> str | None:
    """An interpreter an unprivileged uid can run (this venv's may live under root's 0700 home),
    for serving the function in its no-namespace ``uid`` mode; None if there is none."""
    for candidate in (sys.executable, "/usr/bin/python3.11"):
        path = Path(candidate).resolve()
        if path.exists() and all(p.stat().st_mode & 0o005 for p in [path, *path.parents]):
            return candidate
    return None


@contextmanager
def cloud_function(
    token: str | None = None, *, env: dict[str, str] | None = None, python: str | None = None
) -> Iterator[str]:
    """The function served by functions-framework on 127.0.0.1; yields its URL.

    ``python`` serves it with another interpreter of the same version, given this venv's
    packages (the job's interpreter is the server's)."""
    port = free_port()
    server_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "AUTORUST", "K_"))
    }
    server_env.update(env or {})
    if token:
        server_env["AUTORUST_CF_TOKEN"] = token
    import site

    log = tempfile.TemporaryFile()  # noqa: SIM115  (a pipe nobody reads would block the server)
    launcher = [sys.executable, "-m", "functions_framework"]
    if python is not None:
        launcher = [python, "-c", SERVE.format(site_dirs=site.getsitepackages())]
    proc = subprocess.Popen(
        [*launcher, "--target", "execute",
         "--source", str(ROOT / "cloud_function" / "main.py"),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=log,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"functions-framework did not start: {log.read().decode()[-3000:]}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        log.close()


def fake_id_token(audience: str) -> str:
    """A JWT-shaped ID token (google-auth reads its expiry without verifying it)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"aud": audience, "iat": now, "exp": now + 3600, "iss": "local-test"}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@contextmanager
def token_endpoint(audience: str) -> Iterator[tuple[str, list[dict], str]]:
    """An OAuth token endpoint on loopback that answers service-account JWT grants.

    Yields its URL, the grants it received, and the ID token it issues.
    """
    grants: list[dict] = []
    issued = fake_id_token(audience)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            grants.append(dict(p.split("=", 1) for p in body.split("&")))
            data = json.dumps({"id_token": issued}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", grants, issued
    finally:
        server.shutdown()
        server.server_close()


def service_account_key(path: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "autorust-test",
                "private_key_id": "test-key",
                "private_key": pem,
                "client_email": "runner@autorust-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path
