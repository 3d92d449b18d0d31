"""``--batch-api``: a batch whose model calls go out as provider batches, priced at batch rates.

Inside ``batch_api_session`` every chat completion of the run is collected into rounds
(``RoundCollector``) and every cost (caps, ledger, summary) uses the batch rates of
prices.toml. The in-flight batches are recorded in ``<checkpoint file>.batch-api.sqlite``,
so a killed run, started again, waits on them instead of submitting their calls again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai

from autorust.llm.batch_api import BatchApi
from autorust.llm.batch_transport import batch_api_mode
from autorust.reporting.usage import BATCH_RATES
from autorust.runtime.batch_api_rounds import RoundCollector, RoundStore


def store_path(checkpoint_path: str | Path) -> Path:
    return Path(f"{checkpoint_path}.batch-api.sqlite")


def batch_client(base_url: str | None, api_key: str | None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or "unset",
    )


@contextmanager
def batch_api_session(
    checkpoint_path: str | Path,
    client: openai.OpenAI,
    gather_s: float = 2.0,
    poll_s: float = 30.0,
) -> Iterator[RoundCollector]:
    store = RoundStore(store_path(checkpoint_path))
    collector = RoundCollector(BatchApi(client), store, gather_s=gather_s, poll_s=poll_s)
    token = BATCH_RATES.set(True)
    try:
        with batch_api_mode(collector):
            yield collector
    finally:
        BATCH_RATES.reset(token)
        store.close()
