"""Images sized for the endpoint they are sent to.

Every ``image_url`` part with a data URL is re-encoded to fit the endpoint's limits
(``servers.ImageLimits``: base64 bytes per image, long side, pixels): PNG, or JPEG/WebP when
smaller (photos), shrunk only as far as needed. A very tall or wide page (a long screenshot)
is not shrunk until its text is unreadable: it is cut along its long side into overlapping
tiles, each at a legible scale, sent together in order after one line saying how they fit.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from PIL import Image

from autorust.llm.servers import ImageLimits

TILE_OVERLAP = 0.1  # share of a tile repeated in the next one
MAX_TILES = 8
MIN_TILE_SHORT_SIDE = 768  # a tile's short side is kept at least this (or the page's own)
JPEG_QUALITY = (90, 80, 70)


def _b64_len(data: bytes) -> int:
    return 4 * math.ceil(len(data) / 3)


def _encodings(img: Image.Image) -> list[tuple[str, bytes]]:
    """The image as PNG, JPEG and WebP: smallest first."""
    out = []
    for kind, options in (("png", {}), ("jpeg", {"quality": JPEG_QUALITY[0]}),
                          ("webp", {"quality": JPEG_QUALITY[0]})):  # fmt: skip
        buffer = io.BytesIO()
        try:
            img.save(buffer, format=kind.upper(), **options)
        except (OSError, KeyError):  # a Pillow without WebP
            continue
        out.append((kind, buffer.getvalue()))
    return sorted(out, key=lambda item: len(item[1]))


def _smallest(img: Image.Image) -> tuple[str, bytes]:
    """PNG, unless JPEG or WebP is under half its size (a photo: text stays PNG-sharp)."""
    encodings = _encodings(img)
    png = next(data for kind, data in encodings if kind == "png")
    kind, data = encodings[0]
    return (kind, data) if len(data) * 2 < len(png) else ("png", png)


def _scale_for(img: Image.Image, limits: ImageLimits) -> float:
    pixels = img.width * img.height
    return min(1.0, limits.max_side / max(img.size), (limits.max_pixels / pixels) ** 0.5)


def _fit_one(img: Image.Image, limits: ImageLimits) -> tuple[str, bytes]:
    """One image within the limits: smallest encoding, then lower quality, then smaller."""
    scale = _scale_for(img, limits)
    while True:
        size = (max(1, int(img.width * scale)), max(1, int(img.height * scale)))
        scaled = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)
        kind, data = _smallest(scaled)
        if _b64_len(data) <= limits.max_bytes:
            return kind, data
        for quality in JPEG_QUALITY[1:]:
            buffer = io.BytesIO()
            scaled.save(buffer, format="JPEG", quality=quality)
            if _b64_len(buffer.getvalue()) <= limits.max_bytes:
                return "jpeg", buffer.getvalue()
        scale *= 0.8


def tiles(img: Image.Image, limits: ImageLimits) -> list[Image.Image]:
    """``img`` as one image, or overlapping tiles along its long side when fitting it whole
    would shrink its short side below a legible size."""
    long, short = max(img.size), min(img.size)
    whole = min(1.0, limits.max_side / long, (limits.max_pixels / (long * short)) ** 0.5)
    legible = min(short, MIN_TILE_SHORT_SIDE)
    if short * whole >= legible * 0.99:
        return [img]
    # tile scale: the short side as large as the limits allow, at most the original
    tile_side = min(limits.max_side, int((limits.max_pixels) ** 0.5))
    scale = min(1.0, tile_side / short)
    tile_short = short * scale
    tile_long = min(limits.max_side, int(limits.max_pixels / max(tile_short, 1)))
    step = tile_long * (1 - TILE_OVERLAP)
    count = max(1, math.ceil((long * scale - tile_long) / step) + 1)
    if count > MAX_TILES:  # too long even so: a smaller scale, still in MAX_TILES tiles
        scale *= (tile_long + step * (MAX_TILES - 1)) / (long * scale)
        count = MAX_TILES
    scaled = img.resize(
        (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
        Image.Resampling.LANCZOS,
    )
    length = max(scaled.size)
    tile_long = min(tile_long, length)
    span = length - tile_long
    starts = [round(i * span / (count - 1)) for i in range(count)] if count > 1 else [0]
    tall = img.height >= img.width
    return [
        scaled.crop((0, start, scaled.width, start + tile_long))
        if tall
        else scaled.crop((start, 0, start + tile_long, scaled.height))
        for start in starts
    ]


def _data_url(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


@functools.lru_cache(maxsize=4)  # data URLs of long pages are megabytes each
def _fitted(url: str, limits: ImageLimits) -> tuple[dict[str, Any], ...]:
    payload = base64.b64decode(url.partition(",")[2])
    with Image.open(io.BytesIO(payload)) as opened:
        original_format = (opened.format or "").lower()
        img = opened.convert("RGB")
    pieces = tiles(img, limits)
    if pieces == [img] and _scale_for(img, limits) >= 1.0 and len(url) <= limits.max_bytes:
        kind, data = _smallest(img)  # fits as it is: re-encoded only if far smaller
        if kind == original_format or kind == "png":
            return ({"type": "image_url", "image_url": {"url": url}},)
        return ({"type": "image_url", "image_url": {"url": _data_url(kind, data)}},)
    parts: list[dict[str, Any]] = []
    if len(pieces) > 1:
        direction = "top to bottom" if img.height >= img.width else "left to right"
        parts.append({"type": "text", "text": (
            f"The image ({img.width}x{img.height} px) is sent as {len(pieces)} overlapping "
            f"tiles, in order {direction}; read them as one page."
        )})  # fmt: skip
    for piece in pieces:
        kind, data = _fit_one(piece, limits)
        parts.append({"type": "image_url", "image_url": {"url": _data_url(kind, data)}})
    return tuple(parts)


def fitted_parts(url: str, limits: ImageLimits) -> list[dict[str, Any]]:
    """The parts that carry the data-URL image ``url`` within ``limits``."""
    return [dict(part) for part in _fitted(url, limits)]


def _needs_fitting(part: Any) -> str | None:
    if isinstance(part, dict) and part.get("type") == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        if isinstance(url, str) and url.startswith("data:image/"):
            return url
    return None


def has_images(messages: list[BaseMessage]) -> bool:
    return any(
        isinstance(m.content, list) and any(_needs_fitting(p) for p in m.content) for m in messages
    )


def fit_images(messages: list[BaseMessage], limits: ImageLimits) -> list[BaseMessage]:
    """``messages`` with every data-URL image fitted to ``limits`` (other messages as they are)."""
    out: list[BaseMessage] = []
    for message in messages:
        content = message.content
        if not isinstance(content, list) or not any(_needs_fitting(p) for p in content):
            out.append(message)
            continue
        parts: list[Any] = []
        for part in content:
            url = _needs_fitting(part)
            parts += fitted_parts(url, limits) if url else [part]
        out.append(
            HumanMessage(content=parts)
            if isinstance(message, HumanMessage)
            else message.model_copy(update={"content": parts})
        )
    return out
