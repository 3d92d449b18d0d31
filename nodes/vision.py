"""vision agent: image (+ OCR text) -> Spec (with acceptance tests the coder cannot weaken)."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from PIL import Image

from autorust.graph.context import AutorustConfig
from autorust.graph.state import IMAGE_NAMESPACE, STORE_PREFIX, AgentName, RunState, Spec
from autorust.imaging.images import ImageInputError, LoadedImage, has_chart_axes, load_image
from autorust.imaging.ocr import OcrResult, ocr_available, read_text
from autorust.llm.models import ModelNotConfiguredError
from autorust.llm.scripted import ScriptMissingError
from autorust.nodes.support.evidence import evidence_problems
from autorust.nodes.support.shared import ModelCallError, agent_tools, app_config, ask_model
from autorust.nodes.support.spec_from_text import figure_spec_from_text, spec_from_text
from autorust.nodes.support.untrusted import UNTRUSTED_RULE, untrusted

AGENT = AgentName.VISION


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
        "authoritative, but use it to get identifiers, numbers and examples exactly right):\n"
        + untrusted("OCR text", ocr.text, 8000)
    )


def evidence_request(problems: list[str]) -> HumanMessage:
    return HumanMessage(
        "This specification cannot be verified: code is judged only by executing its tests, "
        "and " + "; ".join(problems) + ". Reply with the complete specification again, with "
        "executable tests taken from the image (or kind and interface 'figure' if the image "
        "is a chart to reproduce)."
    )


def spec_without_vision_model(text: str, image: LoadedImage) -> Spec:
    """The OCR skeleton; a chart with nothing executable in its text becomes a figure task."""
    spec = spec_from_text(text)
    if evidence_problems(spec) and has_chart_axes(image.png):
        return figure_spec_from_text(text)
    return spec


def unverified(spec: Spec, problems: list[str]) -> dict[str, Any]:
    return {
        "spec": spec,
        "status": "unverified",
        "error": "no executable evidence to judge code by: " + "; ".join(problems),
    }


async def vision_node(state: RunState, runtime: Runtime[AutorustConfig]) -> dict[str, Any]:
    config = app_config(runtime)
    try:
        image_path = await server_local_image(state.image_path, runtime, Path(config.home))
        image = await asyncio.to_thread(
            load_image, image_path, cache_dir=Path(config.home) / "images"
        )
    except ImageInputError as exc:
        return {"status": "error", "error": str(exc)}
    # scripted replies never read the prompt: OCR's text would go unused (and it is most of
    # an image's CPU); it is read only if the script has no vision reply (the OCR skeleton)
    ocr_used_by_model = config.provider != "scripted" or config.ocr == "on"
    ocr = await run_ocr(image, config.ocr) if ocr_used_by_model else None
    base = {
        **({"image_path": image_path} if image_path != state.image_path else {}),
        "image_sha256": image.sha256,
        "model_provider": config.provider,
        "max_iterations": state.max_iterations or config.max_iterations,
    }
    calls = []
    try:
        tools = await agent_tools(AGENT, config)
        messages = tools.prompt.format_messages(
            untrusted_rule=UNTRUSTED_RULE,
            image_name=untrusted("file name", Path(state.image_path).name, 120),
            ocr_section=ocr_section(ocr),
        )
        parts = [
            {"type": "text", "text": str(messages[-1].content)},
            {"type": "image_url", "image_url": {"url": image.data_url}},
        ]
        if (tools.layout or {}).get("image") == "first":  # the stable prefix first (caching)
            parts.reverse()
        messages[-1] = HumanMessage(content=parts)
        conversation = list(messages)
        for spec_round in range(config.max_regenerations + 1):
            # autorust_iteration: the scripted model's key for successive spec rounds
            spec, call = await ask_model(
                AGENT, tools, conversation, Spec, state, config,
                autorust_image_sha256=image.sha256, autorust_iteration=spec_round,
            )  # fmt: skip
            calls.append(call)
            problems = evidence_problems(spec)
            if not problems:
                break
            call.regenerations.append("unverifiable spec: " + "; ".join(problems))
            conversation = [
                *messages,
                AIMessage(spec.model_dump_json()),
                evidence_request(problems),
            ]
    except ModelCallError as exc:
        update = exc.state_update()
        return {**base, **update, "model_calls": [*calls, *update.get("model_calls", [])]}
    except (ModelNotConfiguredError, ScriptMissingError):
        if not ocr_used_by_model:
            ocr = await run_ocr(image, config.ocr)
        if ocr is None or not ocr.text:
            raise
        # No vision model for this image: the OCR text alone gives a spec skeleton.
        spec = spec_without_vision_model(ocr.text, image)
        update = {**base, "spec": spec, "prompt_versions": {AGENT: "ocr"}}
        problems = evidence_problems(spec)
        return {**update, **unverified(spec, problems)} if problems else update
    # ocr_text is what OCR read, never the model's own transcription: with OCR off (or not
    # installed) whatever the model put there is discarded, so no later prompt shows it as
    # "text read from the image by OCR"
    spec.ocr_text = ocr.text if ocr is not None else None
    update = {
        **base,
        "spec": spec,
        "prompt_versions": {AGENT: tools.prompt_version},
        "model_calls": calls,
    }
    return {**update, **unverified(spec, problems)} if problems else update
