"""What a model call uses that belongs to the batch (or the single run) it is part of.

``CallResources`` travels with each graph run in its LangGraph run config
(``configurable[RESOURCES_KEY]``, a non-primitive value LangGraph keeps out of checkpoint
metadata); a node reads it with ``resources_of(config)`` and hands it to the model-call layer
as an argument. The application's ``BatchResources`` (autorust/runtime/resources.py) is one,
and owns the lifecycle of what it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.caches import BaseCache

from autorust.llm.batch_stop import BatchStop
from autorust.llm.batch_transport import Collector
from autorust.llm.budget import Budget

RESOURCES_KEY = "autorust_resources"


@dataclass
class CallResources:
    """``journal``: the reply journal of the checkpoint store (a LangChain cache given to each
    call's model); ``budget``: the spending caps (None: no cap); ``stop``: the batch's switch
    that a billing/credentials error turns off (None outside a batch); ``collector``: a
    ``--batch-api`` batch's, to which its model clients send their chat completions."""

    journal: BaseCache | None = None
    budget: Budget | None = None
    stop: BatchStop | None = None
    collector: Collector | None = None

    def with_journal(self, model: Any) -> Any:
        """``model`` answering from / recording in the journal (a shallow copy: same client)."""
        if self.journal is None:
            return model
        return model.model_copy(update={"cache": self.journal})


NO_RESOURCES = CallResources()


def resources_of(config: Mapping[str, Any] | None) -> CallResources:
    """The run's resources in a LangGraph run config; none outside a run that passed them."""
    found = ((config or {}).get("configurable") or {}).get(RESOURCES_KEY)
    return found if isinstance(found, CallResources) else NO_RESOURCES
