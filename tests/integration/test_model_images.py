"""Images sized for the endpoint (issue 23 case 3), against the Anthropic emulator, which
rejects images over 5 MB of base64 or 8000 px a side as Anthropic documents
(docs.anthropic.com/en/docs/build-with-claude/vision)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import HumanMessage
from PIL import Image, ImageDraw

from autorust.graph.context import AutorustConfig
from autorust.graph.state import CodeArtifact
from autorust.imaging.images import load_image, normalised_size
from autorust.llm.models import endpoint_for, make_chat_model
from autorust.llm.structured import invoke_structured
from tests.support.fake_openai import FakeOpenAI, images_of

CODE = {"source": "def f():\n    return 1\n", "notes": ""}
ANTHROPIC_MAX_B64 = 5 * 1024 * 1024


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Camera-like: smooth colour fields plus sensor noise (PNG compresses it badly)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = smooth + rng.normal(0, 12, smooth.shape).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def page(width: int, height: int) -> Image.Image:
    """A long screenshot: 20 px text lines, and a band whose grey level grows along the page
    (so the order of the tiles can be read back)."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    tall = height >= width
    length = height if tall else width
    for offset in range(0, length, 40):
        level = int(200 * offset / length)
        if tall:
            draw.rectangle((0, offset, 30, offset + 40), fill=(level, level, level))
            draw.text((50, offset + 10), f"line {offset // 40}: assert f({offset}) == 1", fill=0)
        else:
            draw.rectangle((offset, 0, offset + 40, 30), fill=(level, level, level))
            draw.text((offset + 2, 50 + (offset // 40) % 20 * 30), f"{offset // 40}", fill=0)
    return img


async def ask_with_image(server: FakeOpenAI, home: Path, image_path: Path) -> None:
    config = AutorustConfig(
        default={"model": "claude-sonnet-4-5", "base_url": server.base_url,
                 "server": "anthropic"},
        home=str(home),
    )  # fmt: skip
    image = await asyncio.to_thread(load_image, image_path, cache_dir=home / "images")
    message = HumanMessage(
        content=[
            {"type": "text", "text": "Read the task."},
            {"type": "image_url", "image_url": {"url": image.data_url}},
        ]
    )
    model = make_chat_model("vision", config, loop=asyncio.get_running_loop())
    await invoke_structured(
        model, [message], CodeArtifact, agent="vision", iteration=0, metadata={},
        endpoint=endpoint_for("vision", config),
    )  # fmt: skip


def save(img: Image.Image, path: Path, **options: Any) -> Path:
    img.save(path, **options)
    return path


@pytest.mark.parametrize(
    ("size", "fmt"), [((4000, 3000), "JPEG"), ((2000, 1500), "PNG")], ids=["camera-jpeg", "png"]
)
async def test_photos_fit_anthropics_5_mb_per_image(
    size: tuple[int, int], fmt: str, tmp_path: Path
) -> None:
    """Observed on 38a965c: sent as PNG at 6.15 MB and 8.03 MB of base64: a 400 from
    Anthropic, the item ended in error."""
    path = save(photo(*size), tmp_path / f"photo.{fmt.lower()}", format=fmt, quality=92)
    with FakeOpenAI(lambda request: CODE, profile="anthropic") as server:
        await ask_with_image(server, tmp_path, path)
        [sent] = images_of(server.requests[-1])
        statuses = list(server.statuses)
    assert statuses == [200]
    assert sent.b64_bytes <= ANTHROPIC_MAX_B64 and max(sent.size) <= 1568
    assert sent.kind in ("jpeg", "webp")  # a photo: far smaller than PNG


@pytest.mark.parametrize("size", [(800, 12_000), (12_000, 800)], ids=["tall", "wide"])
async def test_long_pages_are_sent_as_legible_tiles_in_order(
    size: tuple[int, int], tmp_path: Path
) -> None:
    """Observed on 38a965c: shrunk to 137 px on the short side (16-24 px text became 3-4 px)."""
    assert normalised_size(*size) == size  # kept at full resolution for the model layer
    path = save(page(*size), tmp_path / "page.png")
    with FakeOpenAI(lambda request: CODE, profile="anthropic") as server:
        await ask_with_image(server, tmp_path, path)
        request = server.requests[-1]
    sent = images_of(request)
    assert 2 <= len(sent) <= 8
    assert all(min(image.size) >= 700 and max(image.size) <= 1568 for image in sent)
    assert "overlapping tiles, in order" in str(request["messages"])
    # the tiles come in page order: the grey band darkest first, lightest last
    levels = []
    for part in request["messages"][-1]["content"]:
        url = part.get("image_url", {}).get("url", "") if isinstance(part, dict) else ""
        if url:
            import base64

            with Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))) as tile:
                band = tile.convert("L").crop((0, 0, 25, tile.height) if size[1] > size[0]
                                              else (0, 0, tile.width, 25))  # fmt: skip
                levels.append(float(np.asarray(band).mean()))
    assert levels == sorted(levels) and levels[0] < levels[-1]


def test_ordinary_images_keep_the_old_normalisation() -> None:
    assert normalised_size(4000, 3000) == (2048, 1536)
    assert normalised_size(1200, 800) == (1200, 800)
    assert normalised_size(800, 12_000) == (800, 12_000)
