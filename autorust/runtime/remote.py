"""Run a batch on a LangGraph server (a deployment, or `langgraph dev`) with langgraph-sdk.

Each image becomes a server thread whose id is a UUID5 of autorust's own thread id (content
hash + config fingerprint), so re-running a folder finds finished threads and skips them. The
run's configuration travels as the graph's ``context`` (never API keys: the server reads its
own environment). The server must be able to read the image paths: run it where the images
are, or on shared storage. Results come back as the same ``ItemResult``s the local runner
produces, so the same result folders and reports are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path

from langgraph_sdk import get_client

from autorust.graph.context import AutorustConfig
from autorust.graph.state import RunState
from autorust.reporting.item_files import write_item
from autorust.runtime.batch import BatchOptions
from autorust.runtime.identity import thread_id_for
from autorust.runtime.items import FINISHED, ItemResult, failed_item

GRAPH_ID = "autorust"
THREAD_NAMESPACE = uuid.UUID("5b1f0c52-7c8e-4f0e-9a53-0d5a3c1f7e21")
log = logging.getLogger("autorust.server")


def server_thread_id(local_thread_id: str) -> str:
    return str(uuid.uuid5(THREAD_NAMESPACE, local_thread_id))


async def _run_one(client, image: Path, config: AutorustConfig, force: bool) -> ItemResult:
    started = time.perf_counter()
    try:
        local_id = thread_id_for(image, config)
    except OSError as exc:
        return failed_item(image, exc)
    thread_id = server_thread_id(local_id)
    if force:
        with contextlib.suppress(Exception):  # nothing to delete on a first run
            await client.threads.delete(thread_id)
    await client.threads.create(
        thread_id=thread_id,
        if_exists="do_nothing",
        metadata={"autorust_thread": local_id, "image_path": str(image)},
    )
    state = await client.threads.get_state(thread_id)
    values = state.get("values") or {}
    finished = values.get("status") in FINISHED and not state.get("next")
    skipped = finished
    if not skipped:
        resuming = bool(values)
        async for part in client.runs.stream(
            thread_id,
            GRAPH_ID,
            input=None if resuming else {"image_path": str(image.resolve())},
            context=config.model_dump(mode="json"),
            stream_mode="updates",
        ):
            if part.event == "updates" and isinstance(part.data, dict):
                log.info(f"{image.name}: {', '.join(part.data)} done", extra={"image": str(image)})
            elif part.event == "error":
                return failed_item(image, f"server run failed: {part.data}", thread_id=thread_id)
        values = (await client.threads.get_state(thread_id)).get("values") or {}
    run_state = RunState.model_validate(values)
    return ItemResult(
        image_path=str(image),
        thread_id=thread_id,
        status=run_state.status,
        iterations=len(run_state.attempts),
        error=run_state.error,
        skipped=skipped,
        duration_s=round(time.perf_counter() - started, 3),
        state=run_state,
    )


async def run_on_server(
    url: str,
    images: list[Path],
    config: AutorustConfig,
    options: BatchOptions,
    output_dir: Path,
) -> list[ItemResult]:
    client = get_client(url=url)
    gate = asyncio.Semaphore(options.max_in_flight)

    async def one(image: Path) -> ItemResult:
        async with gate:
            try:
                result = await _run_one(client, image, config, options.force)
            except Exception as exc:  # a failed submission fails its item, not the batch
                result = failed_item(image, exc)
        write_item(output_dir, result)
        return result

    return list(await asyncio.gather(*(one(image) for image in images)))
