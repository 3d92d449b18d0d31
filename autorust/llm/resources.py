"""What a run's nodes use that belongs to the batch (or the single run) they are part of: the
model calls' journal, caps, stop switch and ``--batch-api`` collector, and the sandbox executor.

``RunResources`` travels with each graph run in its LangGraph run config
(``configurable[RESOURCES_KEY]``, a non-primitive value LangGraph keeps out of checkpoint
metadata); a node reads it with ``run_resources()`` (``resources_of`` the config LangGraph
gives the step) and hands it to the model-call layer as an argument. The application's
``BatchResources`` (autorust/runtime/resources.py) is one, and opens and closes what it owns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.caches import BaseCache

from autorust.llm.batch_stop import BatchStop
from autorust.llm.batch_transport import Collector
from autorust.llm.budget import Budget
from autorust.sandbox.base import Executor

RESOURCES_KEY = "autorust_resources"


@dataclass
class RunResources:
    """``journal``: the reply journal of the checkpoint store (a LangChain cache given to each
    call's model); ``budget``: the spending caps (None: no cap); ``stop``: the batch's switch
    that a billing/credentials error turns off (None outside a batch); ``collector``: a
    ``--batch-api`` batch's, to which its model clients send their chat completions;
    ``executor``: the batch's sandbox executor, made from the run's ``config.executor`` (None:
    the nodes use the process's executor for those settings); ``clients`` and ``tools``: the
    batch's model clients and the nodes' built agent tools, made on first use and closed with
    the batch (None: the process's per-event-loop caches)."""

    journal: BaseCache | None = None
    budget: Budget | None = None
    stop: BatchStop | None = None
    collector: Collector | None = None
    executor: Executor | None = None
    clients: dict[tuple[Any, ...], Any] | None = None
    tools: dict[tuple[Any, ...], Any] | None = None

    def with_journal(self, model: Any) -> Any:
        """``model`` answering from / recording in the journal (a shallow copy: same client);
        ``model`` itself when it already does (a batch's tools are built with it)."""
        if self.journal is None or getattr(model, "cache", None) is self.journal:
            return model
        return model.model_copy(update={"cache": self.journal})


NO_RESOURCES = RunResources()


def resources_of(config: Mapping[str, Any] | None) -> RunResources:
    """The run's resources in a LangGraph run config; none outside a run that passed them."""
    found = ((config or {}).get("configurable") or {}).get(RESOURCES_KEY)
    return found if isinstance(found, RunResources) else NO_RESOURCES


def run_resources() -> RunResources:
    """The resources of the graph run this step belongs to (none outside a graph run)."""
    from langgraph.config import get_config

    try:
        return resources_of(get_config())
    except RuntimeError:  # called outside a graph run
        return NO_RESOURCES
