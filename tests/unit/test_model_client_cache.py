"""Model clients are cached per event loop object: never shared across loops, dropped with
their loop, and never handed to a new loop that happens to get a dead loop's id()."""

from __future__ import annotations

import asyncio
import gc

from autorust.graph.context import AutorustConfig
from autorust.llm import models
from autorust.llm.models import make_chat_model

CONFIG = AutorustConfig(default={"model": "m", "base_url": "http://127.0.0.1:9/v1"})


def _client_on_new_loop() -> tuple[object, int]:
    loop = asyncio.new_event_loop()
    try:
        client = make_chat_model("coding", CONFIG, loop=loop)
        assert make_chat_model("coding", CONFIG, loop=loop) is client  # cached on its loop
        return client, id(loop)
    finally:
        loop.close()


def test_each_loop_gets_its_own_client_and_a_dead_loops_client_is_never_reused() -> None:
    seen: dict[int, object] = {}
    for _ in range(20):  # CPython often gives a new loop a freed loop's address
        client, loop_id = _client_on_new_loop()
        gc.collect()
        assert all(client is not earlier for earlier in seen.values())
        seen[loop_id] = client


def test_a_closed_loops_clients_are_dropped_with_it() -> None:
    gc.collect()
    before = len(models._CLIENTS)
    for _ in range(5):
        _client_on_new_loop()
    gc.collect()
    assert len(models._CLIENTS) == before
