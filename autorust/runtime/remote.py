"""Run a batch on a LangGraph server (a deployment, or `langgraph dev`) with langgraph-sdk.

Each image becomes a server thread whose id is a UUID5 of autorust's own thread id (content
hash + config fingerprint), so re-running a folder finds finished threads and skips them. The
run's configuration travels as the graph's ``context`` (never API keys: the server reads its
own environment). The image itself travels too: its bytes are put in the server's store
(namespace ``autorust/images``, keyed by content hash; never in a checkpoint) and the run's
input names it ``store:<sha256>/<file name>``, so a remote server needs no shared disk.
Results come back as the same ``ItemResult``s the local runner produces (identical bytes
under several names are run once), so the same result folders and reports are written.

``ServerItemRunner`` is this mode's ``ItemRunner`` (runtime/item_runner.py): the batch loop and
the skip/resume/retry decision are the local batch's. An item that ended ``error`` or
``budget_exceeded`` is retried from its last good checkpoint (``threads.get_history``, the
failed steps' model calls carried over with ``threads.update_state``, then ``runs.stream`` from
that ``checkpoint``), as locally; it is started over only when no good checkpoint exists.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import logging
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from langgraph_sdk import get_client

from autorust.graph.context import AutorustConfig
from autorust.graph.state import IMAGE_NAMESPACE, STORE_PREFIX, RunState
from autorust.graph.workflow import AGENT_NODES
from autorust.outcomes import ItemResult, failed_item, item_result
from autorust.runtime.batch import BatchOptions
from autorust.runtime.identity import thread_id_from_digest
from autorust.runtime.item_runner import EventSink, ItemBatch, Slot, last_good, next_action
from autorust.runtime.runner import DURABILITY
from autorust.storage.run_index import RunRow

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


HISTORY_PAGE = 100


async def thread_history(client, thread_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every checkpoint of the server thread, newest first."""
    history: list[dict] = []
    while True:
        before = history[-1]["checkpoint"] if history else None
        page = await client.threads.get_history(thread_id, limit=HISTORY_PAGE, before=before)
        history += page
        if len(page) < HISTORY_PAGE:
            return history


async def retry_checkpoint(  # type: ignore[no-untyped-def]
    client, thread_id: str, failed: dict
) -> dict | None:
    """The server twin of ``runner.retry_point``: the checkpoint a rerun of a stopped item
    starts from (``last_good``), with the failed steps' model calls carried onto it."""
    history = await thread_history(client, thread_id)
    pairs = [(state.get("values") or {}, state.get("next") or ()) for state in history]
    found = last_good(pairs, failed.get("model_calls") or [])
    if found is None:
        return None
    good = history[found.index]["checkpoint"]
    if found.as_node is None:
        return good
    update = await client.threads.update_state(
        thread_id, {"model_calls": found.lost}, as_node=found.as_node, checkpoint=good
    )
    return update["checkpoint"]


class ServerActivity:
    """What a ``--server`` batch is doing, as the server's stream tells it: images in flight
    and node steps finished per agent. The server schedules the agents itself, so their queues
    and limits are not visible here."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.steps: collections.Counter[str] = collections.Counter()

    def step_finished(self, node: str) -> None:
        found = AGENT_NODES.get(node)
        if found is not None:
            self.steps[found[0].value] += 1

    def snapshot(self) -> dict[str, int]:
        """Steps finished per agent (every agent listed)."""
        return {
            agent: self.steps[agent] for agent in dict.fromkeys(a for a, _ in AGENT_NODES.values())
        }


class ServerItemRunner:
    """The ``ItemRunner`` of a ``--server`` batch: each image is a thread of the server."""

    def __init__(  # type: ignore[no-untyped-def]
        self, client, config: AutorustConfig, force: bool, activity: ServerActivity | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.force = force
        self.fingerprint = config.fingerprint()  # hashes the scripted replies: once per batch
        self.activity = activity or ServerActivity()

    async def run(self, image: Path, sha256: str, slot: Slot) -> ItemResult:
        async with slot:
            self.activity.in_flight += 1
            try:
                return await self._run(image, sha256)
            except Exception as exc:  # a failed submission fails its item, not the batch
                return failed_item(image, exc)
            finally:
                self.activity.in_flight -= 1

    async def _run(self, image: Path, digest: str) -> ItemResult:
        client, config = self.client, self.config
        started = time.perf_counter()
        local_id = thread_id_from_digest(digest, self.fingerprint)
        thread_id = server_thread_id(local_id)
        metadata = {"autorust_thread": local_id, "image": image.name}
        await client.threads.create(thread_id=thread_id, if_exists="do_nothing", metadata=metadata)
        state = await client.threads.get_state(thread_id)
        values = state.get("values") or {}
        status = values.get("status") if "image_path" in values else None
        action = next_action(status, bool(state.get("next")), self.force)
        checkpoint = None
        if action == "retry_from_last_good":  # not a verdict: retry the failed step
            checkpoint = await retry_checkpoint(client, thread_id, values)
            if checkpoint is None:  # no good checkpoint: start over
                action = "start"
        if action == "start" and (self.force or values):
            with contextlib.suppress(Exception):  # nothing to delete on a first run
                await client.threads.delete(thread_id)
            await client.threads.create(
                thread_id=thread_id, if_exists="do_nothing", metadata=metadata
            )
        if action != "skip":
            graph_input = None
            if action == "start":
                image_ref = await upload_image(client, image, digest)
                graph_input = {"image_path": image_ref, "max_iterations": config.max_iterations}
            async for part in client.runs.stream(
                thread_id,
                GRAPH_ID,
                input=graph_input,
                context=config.model_dump(mode="json"),
                stream_mode="updates",
                durability=DURABILITY,
                checkpoint=checkpoint,
            ):
                if part.event == "updates" and isinstance(part.data, dict):
                    for node in part.data:
                        self.activity.step_finished(node)
                    log.info(
                        f"{image.name}: {', '.join(part.data)} done", extra={"image": str(image)}
                    )
                elif part.event == "error":
                    return failed_item(
                        image, f"server run failed: {part.data}", thread_id=thread_id
                    )
            values = (await client.threads.get_state(thread_id)).get("values") or {}
        # the server's copy of the image is its business: report the file the user gave
        run_state = RunState.model_validate(values).model_copy(update={"image_path": str(image)})
        skipped, resumed = action == "skip", action in ("resume", "retry_from_last_good")
        return item_result(image, thread_id, run_state, started, skipped=skipped, resumed=resumed)


async def run_on_server(
    url: str,
    images: list[Path],
    config: AutorustConfig,
    options: BatchOptions,
    output_dir: Path,
    *,
    on_event: EventSink | None = None,
    activity: ServerActivity | None = None,
) -> list[ItemResult]:
    """The batch on the server: the same loop as a local batch (``ItemBatch``), writing the
    same item folders into ``output_dir``; ``on_event`` sees each finished item, ``activity``
    follows the server's steps (for progress)."""
    runner = ServerItemRunner(get_client(url=url), config, options.force, activity)
    batch = ItemBatch(
        images, max_in_flight=options.max_in_flight, on_event=on_event, output_dir=output_dir
    )
    return await batch.run_items(runner)


SEARCH_PAGE = 100


async def server_runs(url: str) -> list[RunRow]:
    """The server's autorust threads as ``runs list`` rows, newest first (threads made by other
    graphs, or not started, are left out)."""
    client = get_client(url=url)
    rows: list[RunRow] = []
    offset = 0
    while True:
        page = await client.threads.search(
            limit=SEARCH_PAGE, offset=offset, sort_by="updated_at", sort_order="desc"
        )
        rows += [row for thread in page if (row := _server_row(thread)) is not None]
        if len(page) < SEARCH_PAGE:
            return rows
        offset += SEARCH_PAGE


def _server_row(thread: dict) -> RunRow | None:
    values = thread.get("values") or {}
    metadata = thread.get("metadata") or {}
    if not isinstance(values, dict) or "image_path" not in values:
        return None
    updated = thread.get("updated_at")
    return RunRow(
        thread_id=thread["thread_id"],
        image_path=str(metadata.get("image") or values["image_path"]),
        status=str(values.get("status") or "running"),
        iterations=len(values.get("attempts") or ()),
        updated=updated if isinstance(updated, datetime) else datetime.fromisoformat(str(updated)),
        awaiting=thread.get("status") == "interrupted",
    )
