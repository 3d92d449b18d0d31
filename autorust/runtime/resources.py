"""Everything a batch (or one run, a resume, a fork, the MCP server) owns for its model calls,
entered with one ``async with`` and passed down explicitly: in each graph run's config
(``runnable_config_for``), where nodes read it and give it to the model-call layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from langgraph.checkpoint.base import BaseCheckpointSaver

from autorust.llm.batch_stop import BatchStop
from autorust.llm.batch_transport import Collector
from autorust.llm.budget import Budget
from autorust.llm.resources import RunResources
from autorust.sandbox.base import Executor
from autorust.storage.journal import open_reply_journal
from autorust.storage.pg_holders import PgHolders, open_holders
from autorust.storage.replies import ReplyJournal


@dataclass
class BatchResources(RunResources):
    """``RunResources`` (journal, budget, stop) plus what only the application uses:
    ``holders``, the PostgreSQL advisory locks that say this process runs a thread."""

    journal: ReplyJournal | None = None
    holders: PgHolders | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        saver: BaseCheckpointSaver | None = None,
        *,
        budget: Budget | None = None,
        stop: BatchStop | None = None,
        collector: Collector | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[BatchResources]:
        """The reply journal and run holders of ``saver``'s store (none without a saver) and
        the batch's own model clients, closed when the body ends. ``budget``: kept only when
        it sets a cap; ``stop``: a batch's switch (a single run has none: each call reports
        its own account error); ``collector``: a ``--batch-api`` batch's; ``executor``: the
        sandbox executor the caller made (and closes) from the runs' ``config.executor``."""
        capped = budget if budget is not None and budget.active else None
        async with open_reply_journal(saver) as journal, open_holders(saver) as holders:
            resources = cls(
                journal=journal,
                budget=capped,
                stop=stop,
                collector=collector,
                executor=executor,
                clients={},
                tools={},
                holders=holders,
            )
            try:
                yield resources
            finally:
                await resources.close_clients()

    async def close_clients(self) -> None:
        """Close the HTTP connections of the model clients this batch made."""
        clients, self.clients, self.tools = self.clients or {}, {}, {}
        for model in clients.values():
            http = getattr(model, "http_async_client", None)
            if http is not None:
                with contextlib.suppress(Exception):
                    await http.aclose()
