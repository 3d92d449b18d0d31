"""``autorust mcp``: serve the runs to MCP clients (stdio, or Streamable HTTP on loopback)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from autorust.cli.errors import clear_errors, fail


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@clear_errors
def mcp(
    transport: Annotated[
        Transport, typer.Option(help="stdio (an MCP client starts this command) | http")
    ] = Transport.stdio,
    host: Annotated[
        str,
        typer.Option(help="http: address to listen on (not loopback: needs AUTORUST_MCP_TOKEN)"),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: port (the endpoint is /mcp)")] = 8765,
    scripted: Annotated[
        Path | None, typer.Option(help="replay scripted replies from this folder")
    ] = None,
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", "-n", help="coding attempts")
    ] = None,
    checkpoint: Annotated[
        str | None, typer.Option(help="SQLite file or postgresql:// URL (default .autorust/...)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="results folder")] = None,
) -> None:
    """Serve autorust to MCP clients: tools run_image, run_folder, status, result, list_runs,
    cancel; the same configuration and checkpoints as the CLI."""
    from autorust.cli.config_checks import load_config, scripted_overrides
    from autorust.cli.errors import ConfigError
    from autorust.cli.probes import check_model_endpoints

    try:
        from autorust.runtime.mcp_auth import TOKEN_ENV, MCPAuthError, http_auth
        from autorust.runtime.mcp_server import build_server
    except ImportError:
        raise fail("autorust mcp needs the MCP SDK: pip install 'autorust[mcp]'") from None
    overrides = scripted_overrides(scripted)
    if max_iterations is not None:
        overrides["max_iterations"] = max_iterations
    if out is not None:
        overrides["output_dir"] = str(out)
    config = load_config(**overrides)
    check_model_endpoints(config)
    store = checkpoint or str(config.checkpoint_path)
    auth = None
    if transport is Transport.http:
        try:
            auth = http_auth(host, port, os.environ.get(TOKEN_ENV))
        except MCPAuthError as exc:
            raise ConfigError(exc.setting, exc.problem) from None
    server = build_server(config, store, host, port, auth)
    server.run("stdio" if transport is Transport.stdio else "streamable-http")
