"""``autorust mcp``: the runs as MCP tools (official MCP Python SDK), over stdio or Streamable
HTTP. Same configuration and checkpoint store as the CLI: a run started here shows in
``autorust runs list`` and resumes with ``autorust runs resume``.

Tools: ``run_image`` (a path, or base64 bytes), ``run_folder``, ``status``, ``result``,
``list_runs``, ``cancel``. A run works in the background and is named by its thread id (the
run handle); ``wait=true`` returns its outcome instead, with progress notifications (a folder:
runs finished of all). Resources ``autorust://runs/{thread_id}/code`` and ``.../result`` serve
a run's program and full result.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from pydantic import BaseModel

from autorust.graph.context import AutorustConfig
from autorust.outcomes import ItemResult, failed_item
from autorust.reporting.item_files import write_item
from autorust.runtime.identity import thread_id_for
from autorust.runtime.inputs import scan_folder
from autorust.runtime.resources import BatchResources
from autorust.runtime.runner import compile_graph, run_image, state_of
from autorust.storage.checkpoints import open_checkpointer
from autorust.storage.listing import current_runs

CANCEL_WAIT_S = 30.0  # a step in flight (a model call, a sandbox job) stops within this
INSTRUCTIONS = (
    "autorust turns an image of a programming task into verified code. Start a run with "
    "run_image (or run_folder for every image of a folder); poll status with the returned "
    "thread_id, then read result. Statuses: running, passed, failed, unverified, error."
)


class RunHandle(BaseModel):
    thread_id: str
    image: str
    status: str


class Runs:
    """The background runs of this server over one checkpoint store."""

    def __init__(
        self, config: AutorustConfig, saver: Any, resources: BatchResources | None = None
    ) -> None:
        self.config, self.saver, self.resources = config, saver, resources
        self.graph = compile_graph(saver)
        self.tasks: dict[str, asyncio.Task[ItemResult]] = {}
        self.cancelled: set[str] = set()
        self.inputs = Path(config.home) / "mcp-inputs"

    def start(self, image: Path) -> RunHandle:
        thread = thread_id_for(image, self.config)
        task = self.tasks.get(thread)
        if task is None or task.done():
            self.tasks[thread] = asyncio.create_task(self._run(image, thread))
            self.cancelled.discard(thread)
        return RunHandle(thread_id=thread, image=str(image), status="running")

    async def _run(self, image: Path, thread: str) -> ItemResult:
        try:
            result = await run_image(
                image, self.config, self.saver, thread_id=thread, resources=self.resources
            )
        except Exception as exc:  # the run's failure is its outcome, as in a batch
            result = failed_item(image, exc, thread_id=thread)
        await asyncio.to_thread(write_item, Path(self.config.output_dir), result)
        return result

    def save_upload(self, data: str, filename: str) -> Path:
        """Base64 bytes -> a file named by its content (the state keeps paths, not bytes)."""
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("image_base64 is not valid base64") from None
        name = Path(filename.replace("\\", "/")).name
        if name in ("", ".", "..") or name.startswith("."):
            name = "image.png"
        target = self.inputs / hashlib.sha256(raw).hexdigest()[:16] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(raw)
        return target

    async def status(self, thread: str) -> dict[str, Any]:
        task = self.tasks.get(thread)
        if task is not None and not task.done() and thread not in self.cancelled:
            state = await state_of(self.graph, thread)
            return {"thread_id": thread, "status": "running", "finished": False,
                    "iteration": state.iteration if state else 0,
                    "steps_done": len(state.attempts) if state else 0}  # fmt: skip
        state = await state_of(self.graph, thread)
        if task is not None and (task.cancelled() or thread in self.cancelled):
            return {"thread_id": thread, "status": "cancelled", "finished": task.done(),
                    "resumable": state is not None,
                    "steps_done": len(state.attempts) if state else 0}  # fmt: skip
        outcome = task.result() if task is not None else None
        if state is None and outcome is None:
            raise ValueError(f"no run {thread!r} (list_runs shows the runs)")
        found = outcome.status if outcome is not None else state.status  # type: ignore[union-attr]
        return {"thread_id": thread, "status": found, "finished": found != "running",
                "error": outcome.error if outcome is not None else state.error,  # type: ignore[union-attr]
                "awaiting_approval": outcome.awaiting if outcome is not None else None,
                "iteration": state.iteration if state else 0,
                "steps_done": len(state.attempts) if state else 0}  # fmt: skip

    async def result(self, thread: str) -> dict[str, Any]:
        state = await state_of(self.graph, thread)
        if state is None:
            raise ValueError(f"no run {thread!r} (list_runs shows the runs)")
        last = state.attempts[-1] if state.attempts else None
        return {
            "thread_id": thread,
            "image": state.image_path,
            "status": state.status,
            "error": state.error,
            "spec": state.spec.model_dump(mode="json") if state.spec else None,
            "code": state.code.source if state.code else None,
            "verdict": state.verdict.model_dump(mode="json") if state.verdict else None,
            "tests": [t.model_dump(mode="json") for t in last.execution.tests] if last else [],
            "iterations": len(state.attempts),
            "tokens": {
                "input": sum(c.input_tokens for c in state.model_calls),
                "output": sum(c.output_tokens for c in state.model_calls),
            },
            "resources": [f"autorust://runs/{thread}/{part}" for part in ("code", "result")],
        }

    async def cancel(self, thread: str) -> bool:
        """Stop a running run and wait until it has stopped, so the next ``status`` already
        says ``cancelled``."""
        task = self.tasks.get(thread)
        if task is None or task.done():
            return False
        self.cancelled.add(thread)
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
        return True

    async def wait(self, thread: str, ctx: Context | None) -> dict[str, Any]:
        task = self.tasks[thread]
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if ctx is not None:
                state = await state_of(self.graph, thread)
                done = len(state.attempts) if state else 0
                await ctx.report_progress(done, self.config.max_iterations,
                                          f"{thread}: attempt {done}")  # fmt: skip
        return await self.result(thread)

    async def wait_all(self, threads: list[str], ctx: Context | None) -> dict[str, str]:
        """Every run's final status, reporting how many have finished as they do."""
        tasks = {thread: self.tasks[thread] for thread in dict.fromkeys(threads)}
        pending = set(tasks.values())
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.5)
            if ctx is not None:
                done = len(tasks) - len(pending)
                await ctx.report_progress(done, len(tasks), f"{done} of {len(tasks)} runs finished")
        return {thread: (await self.status(thread))["status"] for thread in tasks}

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


def build_server(
    config: AutorustConfig,
    checkpoint: str,
    host: str,
    port: int,
    auth: dict[str, Any] | None = None,
) -> FastMCP:
    """``auth``: FastMCP's auth arguments for HTTP (``mcp_auth.http_auth``)."""

    @asynccontextmanager
    async def lifespan(_: FastMCP) -> AsyncIterator[Runs]:
        """Per server run (stdio) or per session (HTTP): the store open, the session's runs
        (cancelled when it ends; their finished steps stay checkpointed)."""
        async with (
            open_checkpointer(checkpoint) as saver,
            BatchResources.open(saver) as resources,
        ):
            runs = Runs(config, saver, resources)
            try:
                yield runs
            finally:
                await runs.close()

    def of(ctx: Context) -> Runs:
        return ctx.request_context.lifespan_context  # type: ignore[no-any-return]

    server = FastMCP("autorust", instructions=INSTRUCTIONS, lifespan=lifespan, host=host,
                     port=port, **(auth or {}))  # fmt: skip

    @server.tool()
    async def run_image(
        path: str | None = None,
        image_base64: str | None = None,
        filename: str = "image.png",
        wait: bool = False,
        *,
        ctx: Context,
    ) -> dict[str, Any]:
        """Start turning one image (a path the server can read, or base64 bytes) into
        verified code. Returns the run handle (thread_id); with wait=true, the result."""
        if (path is None) == (image_base64 is None):
            raise ValueError("give exactly one of path and image_base64")
        image = Path(path) if path else of(ctx).save_upload(image_base64 or "", filename)
        if not image.is_file():
            raise ValueError(f"no image file at {image}")
        handle = of(ctx).start(image.resolve())
        if wait:
            return await of(ctx).wait(handle.thread_id, ctx)
        return handle.model_dump()

    @server.tool()
    async def run_folder(path: str, ctx: Context, wait: bool = False) -> dict[str, Any]:
        """Start a run for every image of a folder; returns their handles and the files that
        are not processed, with the reason. With wait=true, waits for every run (progress:
        runs finished of all) and each handle carries its final status."""
        folder = Path(path)
        if not folder.is_dir():
            raise ValueError(f"no folder at {path}")
        scanned = scan_folder(folder)
        handles = [of(ctx).start(Path(p).resolve()).model_dump() for p in scanned.to_process]
        if wait:
            final = await of(ctx).wait_all([h["thread_id"] for h in handles], ctx)
            handles = [{**h, "status": final[h["thread_id"]]} for h in handles]
        return {"runs": handles,
                "not_processed": [n.model_dump() for n in scanned.not_processed]}  # fmt: skip

    @server.resource("autorust://runs/{thread_id}/code", mime_type="text/x-python")
    async def code(thread_id: str) -> str:
        """A run's current program (large outputs as resources, not tool replies)."""
        return (await of(server.get_context()).result(thread_id))["code"] or ""

    @server.resource("autorust://runs/{thread_id}/result", mime_type="application/json")
    async def full_result(thread_id: str) -> str:
        """A run's spec, code, verdict, last test results and tokens, as JSON."""
        return json.dumps(await of(server.get_context()).result(thread_id))

    @server.tool()
    async def status(thread_id: str, ctx: Context) -> dict[str, Any]:
        """Where a run is: running, or its final status."""
        return await of(ctx).status(thread_id)

    @server.tool()
    async def result(thread_id: str, ctx: Context) -> dict[str, Any]:
        """A run's spec, code, verdict, last test results and tokens."""
        return await of(ctx).result(thread_id)

    @server.tool()
    async def list_runs(
        ctx: Context, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Runs in the checkpoint store (the CLI's included), newest first."""
        rows = await current_runs(of(ctx).saver)
        rows = [r for r in rows if status is None or r.status == status]
        return [r.model_dump(mode="json") for r in (rows[:limit] if limit else rows)]

    @server.tool()
    async def cancel(thread_id: str, ctx: Context) -> dict[str, Any]:
        """Stop a run started by this server; its finished steps stay checkpointed, so
        ``autorust runs resume`` continues it."""
        return {"thread_id": thread_id, "cancelled": await of(ctx).cancel(thread_id)}

    return server
