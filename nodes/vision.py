"""vision agent: image -> Spec (with acceptance tests the coder cannot weaken)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from graph.config import AutorustConfig
from graph.state import RunState, Spec
from nodes.context import agent_tools, call_metadata, run_config
from nodes.images import ImageInputError, load_image
from nodes.structured import InvalidModelOutputError, invoke_structured

AGENT = "vision"


async def vision_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    config = run_config(runtime)
    try:
        image = await asyncio.to_thread(
            load_image, state.image_path, cache_dir=Path(config.home) / "images"
        )
    except ImageInputError as exc:
        return {"status": "error", "error": str(exc)}
    prompt, version, model = await agent_tools(AGENT, config)
    messages = prompt.format_messages(image_name=Path(state.image_path).name, ocr_section="")
    human = messages[-1]
    messages[-1] = HumanMessage(
        content=[
            {"type": "text", "text": str(human.content)},
            {"type": "image_url", "image_url": {"url": image.data_url}},
        ]
    )
    try:
        spec, call = await invoke_structured(
            model,
            messages,
            Spec,
            agent=AGENT,
            iteration=state.iteration,
            metadata={**call_metadata(state), "autorust_image_sha256": image.sha256},
            max_regenerations=config.max_regenerations,
        )
    except InvalidModelOutputError as exc:
        return exc.state_update()
    return {
        "spec": spec,
        "image_sha256": image.sha256,
        "prompt_versions": {AGENT: version},
        "model_provider": config.provider,
        "model_calls": [call],
    }
