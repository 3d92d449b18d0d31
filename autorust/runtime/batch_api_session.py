"""``--batch-api``: a batch whose model calls go out as provider batches, priced at batch rates.

``batch_api_session`` opens the collector; a batch given it (``BatchRun(batch_api=...)``)
collects every chat completion of its runs into rounds (``RoundCollector``) and prices every
cost (caps, ledger, summary) at the batch rates of prices.toml (``load_prices(batch=True)``).
The in-flight batches are recorded in ``<checkpoint file>.batch-api.sqlite``, so a killed run,
started again, waits on them instead of submitting their calls again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import openai

from autorust.llm.batch_api import BatchApi
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
    try:
        yield collector
    finally:
        store.close()


@contextmanager
def cli_batch_api(enabled: bool, checkpoint: str | None) -> Iterator[RoundCollector | None]:
    """``autorust run --batch-api``: the session around the whole command (run and summary),
    whose collector the command passes to its batch (None without ``--batch-api``).
    The in-flight batches are kept beside the SQLite checkpoint file (or in the home folder
    when checkpoints live in PostgreSQL). AUTORUST_BATCH_API_POLL_S: seconds between status
    polls (30); AUTORUST_BATCH_API_GATHER_S: quiet time that closes a round (2)."""
    if not enabled:
        yield None
        return
    from autorust.graph.context import AutorustConfig

    if checkpoint and "://" not in checkpoint:
        path = Path(checkpoint)
    else:
        path = AutorustConfig().checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    poll_s = float(os.environ.get("AUTORUST_BATCH_API_POLL_S", "30"))
    gather_s = float(os.environ.get("AUTORUST_BATCH_API_GATHER_S", "2"))
    with batch_api_session(path, gather_s=gather_s, poll_s=poll_s) as collector:
        yield collector
