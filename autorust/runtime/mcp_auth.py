"""Who may use ``autorust mcp`` over HTTP. The tools read images from the server's disk and
spend its model keys, so: loopback needs nothing more (DNS-rebinding protection is the SDK's),
any other address only with a bearer token (``AUTORUST_MCP_TOKEN``), which the MCP SDK's own
resource-server middleware checks on every request (401 without it). The token is compared in
constant time and never logged or echoed."""

from __future__ import annotations

import hmac
from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

TOKEN_ENV = "AUTORUST_MCP_TOKEN"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MIN_TOKEN_CHARS = 16


class MCPAuthError(ValueError):
    def __init__(self, setting: str, problem: str) -> None:
        self.setting, self.problem = setting, problem
        super().__init__(f"{setting}: {problem}")


class StaticTokenVerifier:
    """The SDK's ``TokenVerifier`` for one shared secret."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        return AccessToken(token="(bearer)", client_id="autorust-mcp", scopes=[])


def http_auth(host: str, port: int, token: str | None) -> dict[str, Any]:
    """FastMCP's keyword arguments for serving HTTP on ``host`` with ``token`` (or none)."""
    if not token:
        if host not in LOOPBACK:
            raise MCPAuthError(
                "--host",
                f"serving MCP on {host} (not loopback) needs a bearer token: set {TOKEN_ENV} "
                f"(at least {MIN_TOKEN_CHARS} characters, e.g. from `openssl rand -hex 32`)",
            )
        return {}
    if len(token) < MIN_TOKEN_CHARS:
        raise MCPAuthError(TOKEN_ENV, f"too short: use at least {MIN_TOKEN_CHARS} characters")
    where = f"[{host}]" if ":" in host else host
    return {
        "token_verifier": StaticTokenVerifier(token),
        "auth": AuthSettings(
            issuer_url=f"http://{where}:{port}",  # type: ignore[arg-type]
            resource_server_url=None,
            validate_token_resource=False,
        ),
    }
