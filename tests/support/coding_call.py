"""One structured coding call through the real model layer, as the model tests make it."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import HumanMessage

from autorust.graph.context import AutorustConfig
from autorust.graph.state import CodeArtifact
from autorust.llm.models import endpoint_for, make_chat_model
from autorust.llm.strategy_memory import StrategyMemory
from autorust.llm.structured import invoke_structured


async def ask_coder(
    config: AutorustConfig, memory: StrategyMemory | None = None
) -> tuple[CodeArtifact, Any]:
    model = make_chat_model("coding", config, loop=asyncio.get_running_loop())
    return await invoke_structured(
        model,
        [HumanMessage("write f")],
        CodeArtifact,
        agent="coding",
        iteration=0,
        metadata={},
        max_regenerations=config.max_regenerations,
        endpoint=endpoint_for("coding", config),
        memory=memory,
    )
