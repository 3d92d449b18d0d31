"""``--batch-api``: a batch whose model calls go out as provider batches, priced at batch rates.

Inside ``batch_api_session`` every chat completion of the run is collected into rounds
(``RoundCollector``) and every cost (caps, ledger, summary) uses the batch rates of
prices.toml. The in-flight batches are recorded in ``<checkpoint file>.batch-api.sqlite``,
so a killed run, started again, waits on them instead of submitting their calls again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import openai

from autorust.llm.batch_api import BatchApi
from autorust.llm.batch_transport import batch_api_mode
from autorust.reporting.usage import BATCH_RATES
from autorust.runtime.batch_api_rounds import RoundCollector, RoundStore


def store_path(checkpoint_path: str | Path) -> Path:
    return Path(f"{checkpoint_path}.batch-api.sqlite")


@cache
def batch_api_for(endpoint: str, api_key: str) -> BatchApi:
    """The Batch API of the endpoint a model call was going to, with the call's own key."""
    return BatchApi(openai.OpenAI(base_url=endpoint, api_key=api_key or "unset"))


@contextmanager
def batch_api_session(
    checkpoint_path: str | Path,
    api_for: Callable[[str, str], BatchApi] = batch_api_for,
    gather_s: float = 2.0,
    poll_s: float = 30.0,
) -> Iterator[RoundCollector]:
    store = RoundStore(store_path(checkpoint_path))
    collector = RoundCollector(api_for, store, gather_s=gather_s, poll_s=poll_s)
    token = BATCH_RATES.set(True)
    try:
        with batch_api_mode(collector):
            yield collector
    finally:
        BATCH_RATES.reset(token)
        store.close()


@contextmanager
def cli_batch_api(enabled: bool, checkpoint: str | None) -> Iterator[None]:
    """``autorust run --batch-api``: the session around the whole command (run and summary).
    The in-flight batches are kept beside the SQLite checkpoint file (or in the home folder
    when checkpoints live in PostgreSQL). AUTORUST_BATCH_API_POLL_S: seconds between status
    polls (30); AUTORUST_BATCH_API_GATHER_S: quiet time that closes a round (2)."""
    if not enabled:
        yield
        return
    from autorust.graph.context import AutorustConfig

    if checkpoint and "://" not in checkpoint:
        path = Path(checkpoint)
    else:
        path = AutorustConfig().checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    poll_s = float(os.environ.get("AUTORUST_BATCH_API_POLL_S", "30"))
    gather_s = float(os.environ.get("AUTORUST_BATCH_API_GATHER_S", "2"))
    with batch_api_session(path, gather_s=gather_s, poll_s=poll_s):
        yield
