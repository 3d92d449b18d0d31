"""Run a batch on a LangGraph server (a deployment, or `langgraph dev`) with langgraph-sdk.

Each image becomes a server thread whose id is a UUID5 of autorust's own thread id (content
hash + config fingerprint), so re-running a folder finds finished threads and skips them. The
run's configuration travels as the graph's ``context`` (never API keys: the server reads its
own environment). The image itself travels too: its bytes are put in the server's store
(namespace ``autorust/images``, keyed by content hash; never in a checkpoint) and the run's
input names it ``store:<sha256>/<file name>``, so a remote server needs no shared disk.
Results come back as the same ``ItemResult``s the local runner produces (identical bytes
under several names are run once), so the same result folders and reports are written.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from pathlib import Path

import httpx
from langgraph_sdk import get_client

from autorust.graph.context import AutorustConfig
from autorust.graph.state import IMAGE_NAMESPACE, STORE_PREFIX, RunState
from autorust.outcomes import SETTLED, ItemResult, failed_item, item_result
from autorust.reporting.item_files import write_item
from autorust.runtime.batch import BatchOptions
from autorust.runtime.identity import thread_id_from_digest
from autorust.runtime.inputs import group_by_content
from autorust.runtime.runner import DURABILITY

GRAPH_ID = "autorust"
THREAD_NAMESPACE = uuid.UUID("5b1f0c52-7c8e-4f0e-9a53-0d5a3c1f7e21")
log = logging.getLogger("autorust.server")


def server_thread_id(local_thread_id: str) -> str:
    return str(uuid.uuid5(THREAD_NAMESPACE, local_thread_id))


class ServerUnavailableError(RuntimeError):
    pass


async def check_server(url: str) -> None:
    """The server answers before any image is sent; ``ServerUnavailableError`` otherwise."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{url.rstrip('/')}/ok")
    except httpx.HTTPError as exc:
        raise ServerUnavailableError(f"cannot reach {url} ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ServerUnavailableError(
            f"{url} is not a LangGraph server (GET /ok: {response.status_code})"
        )


async def upload_image(client, image: Path, digest: str) -> str:  # type: ignore[no-untyped-def]
    """Put the image's bytes in the server's store; the run's ``image_path`` input."""
    data = await asyncio.to_thread(image.read_bytes)
    await client.store.put_item(
        list(IMAGE_NAMESPACE), key=digest, value={"base64": base64.b64encode(data).decode()}
    )
    return f"{STORE_PREFIX}{digest}/{image.name}"


async def _run_one(  # type: ignore[no-untyped-def]
    client, image: Path, digest: str, fingerprint: str, config: AutorustConfig, force: bool
) -> ItemResult:
    started = time.perf_counter()
    local_id = thread_id_from_digest(digest, fingerprint)
    thread_id = server_thread_id(local_id)

    async def create_thread() -> None:
        await client.threads.create(
            thread_id=thread_id,
            if_exists="do_nothing",
            metadata={"autorust_thread": local_id, "image": image.name},
        )

    if force:
        with contextlib.suppress(Exception):  # nothing to delete on a first run
            await client.threads.delete(thread_id)
    await create_thread()
    state = await client.threads.get_state(thread_id)
    values = state.get("values") or {}
    if values.get("status") == "error" and not state.get("next"):
        # a failure, not a verdict: a plain rerun tries the item again on a fresh thread
        await client.threads.delete(thread_id)
        await create_thread()
        state, values = {}, {}
    finished = values.get("status") in SETTLED and not state.get("next")
    skipped = finished
    if not skipped:
        resuming = bool(values)
        graph_input = None
        if not resuming:
            image_ref = await upload_image(client, image, digest)
            graph_input = {"image_path": image_ref, "max_iterations": config.max_iterations}
        async for part in client.runs.stream(
            thread_id,
            GRAPH_ID,
            input=graph_input,
            context=config.model_dump(mode="json"),
            stream_mode="updates",
            durability=DURABILITY,
        ):
            if part.event == "updates" and isinstance(part.data, dict):
                log.info(f"{image.name}: {', '.join(part.data)} done", extra={"image": str(image)})
            elif part.event == "error":
                return failed_item(image, f"server run failed: {part.data}", thread_id=thread_id)
        values = (await client.threads.get_state(thread_id)).get("values") or {}
    # the server's copy of the image is its business: report the file the user gave
    run_state = RunState.model_validate(values).model_copy(update={"image_path": str(image)})
    return item_result(image, thread_id, run_state, started, skipped=skipped)


async def run_on_server(
    url: str,
    images: list[Path],
    config: AutorustConfig,
    options: BatchOptions,
    output_dir: Path,
) -> list[ItemResult]:
    client = get_client(url=url)
    gate = asyncio.Semaphore(options.max_in_flight)
    fingerprint = config.fingerprint()  # hashes the scripted replies: once per batch
    results: dict[str, ItemResult] = {}

    def record(result: ItemResult) -> None:
        results[result.image_path] = result
        write_item(output_dir, result)

    async def one(group) -> None:  # type: ignore[no-untyped-def]
        image = Path(group.path)
        if group.error is not None:
            record(failed_item(image, group.error))
            return
        async with gate:
            try:
                result = await _run_one(
                    client, image, group.sha256, fingerprint, config, options.force
                )
            except Exception as exc:  # a failed submission fails its item, not the batch
                result = failed_item(image, exc)
        record(result)
        for copy in group.copies:
            record(result.model_copy(update={"image_path": copy, "duplicate_of": group.path}))

    groups = await asyncio.to_thread(group_by_content, images)
    await asyncio.gather(*(one(group) for group in groups))
    return [results[str(image)] for image in images]
