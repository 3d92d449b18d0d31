"""vision agent: image (+ OCR text) -> Spec (with acceptance tests the coder cannot weaken)."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from PIL import Image

from autorust.graph.context import AutorustConfig
from autorust.graph.state import AgentName, RunState, Spec
from autorust.imaging.images import ImageInputError, LoadedImage, load_image
from autorust.imaging.ocr import OcrResult, ocr_available, read_text
from autorust.llm.models import ModelNotConfiguredError
from autorust.llm.scripted import ScriptMissingError
from autorust.llm.structured import InvalidModelOutputError
from autorust.nodes.shared import agent_tools, ask_model, run_config
from autorust.nodes.spec_from_text import spec_from_text

AGENT = AgentName.VISION
STORE_PREFIX = "store:"  # image_path of a run whose image was sent in the server's store
IMAGE_NAMESPACE = ("autorust", "images")


async def server_local_image(image_path: str, runtime: Runtime[AutorustConfig], home: Path) -> str:
    """``store:<sha256>/<name>``: the image was uploaded to the LangGraph server's store (a
    remote server needs no shared disk); write it once under ``home`` and use that path.
    The bytes live in the store, never in a checkpoint."""
    if not image_path.startswith(STORE_PREFIX) or runtime.store is None:
        return image_path
    digest, _, name = image_path.removeprefix(STORE_PREFIX).partition("/")
    target = home / "inputs" / digest[:16] / Path(name).name
    if not target.is_file():
        item = await runtime.store.aget(IMAGE_NAMESPACE, digest)
        if item is None:
            raise ImageInputError(f"{name}: not in the server's store (key {digest[:16]})")
        data = base64.b64decode(item.value["base64"])

        def save() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(data)
            partial.replace(target)

        await asyncio.to_thread(save)
    return str(target)


async def run_ocr(image: LoadedImage, mode: str) -> OcrResult | None:
    if mode == "off" or (mode == "auto" and not await asyncio.to_thread(ocr_available)):
        return None
    return await asyncio.to_thread(read_text, Image.open(io.BytesIO(image.png)))


def ocr_section(ocr: OcrResult | None) -> str:
    if ocr is None or not ocr.text:
        return ""
    return (
        "Text read from the image by OCR (it may contain recognition errors; the image is "
        f"authoritative, but use it to get identifiers, numbers and examples exactly right):\n"
        f"```\n{ocr.text}\n```"
    )


async def vision_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    config = run_config(runtime)
    try:
        image_path = await server_local_image(state.image_path, runtime, Path(config.home))
        image = await asyncio.to_thread(
            load_image, image_path, cache_dir=Path(config.home) / "images"
        )
    except ImageInputError as exc:
        return {"status": "error", "error": str(exc)}
    ocr = await run_ocr(image, config.ocr)
    base = {
        **({"image_path": image_path} if image_path != state.image_path else {}),
        "image_sha256": image.sha256,
        "model_provider": config.provider,
        "max_iterations": state.max_iterations or config.max_iterations,
    }
    try:
        tools = await agent_tools(AGENT, config)
        messages = tools.prompt.format_messages(
            image_name=Path(state.image_path).name, ocr_section=ocr_section(ocr)
        )
        messages[-1] = HumanMessage(
            content=[
                {"type": "text", "text": str(messages[-1].content)},
                {"type": "image_url", "image_url": {"url": image.data_url}},
            ]
        )
        spec, call = await ask_model(
            AGENT, tools, messages, Spec, state, config, autorust_image_sha256=image.sha256
        )
    except InvalidModelOutputError as exc:
        return {**base, **exc.state_update()}
    except (ModelNotConfiguredError, ScriptMissingError):
        if ocr is None or not ocr.text:
            raise
        # No vision model for this image: the OCR text alone gives a usable spec skeleton.
        return {**base, "spec": spec_from_text(ocr.text), "prompt_versions": {AGENT: "ocr"}}
    if ocr is not None:
        spec.ocr_text = ocr.text
    return {
        **base,
        "spec": spec,
        "prompt_versions": {AGENT: tools.prompt_version},
        "model_calls": [call],
    }
