"""Any decodable image as an RGB array flattened on white, reduced when huge."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 1600  # larger images are reduced first: detail beyond this changes no verdict
BACKGROUND_TOLERANCE = 32  # a pixel this far (max channel) from the background is content


MAX_TABLE = 100_000  # distinct colours; beyond that (photos, noise) they are rounded first


@dataclass(frozen=True)
class ColourTable:
    """The distinct colours of a picture: per-colour work runs on these, not on every pixel."""

    colours: np.ndarray  # N x 3 float
    counts: np.ndarray  # N
    inverse: np.ndarray  # H x W index into colours

    @classmethod
    def of(cls, rgb: np.ndarray) -> ColourTable:
        values = rgb.astype(np.int32)
        packed = (values[..., 0] << 16) | (values[..., 1] << 8) | values[..., 2]
        unique, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
        if len(unique) > MAX_TABLE:
            rounded = (values // 8) * 8 + 4
            packed = (rounded[..., 0] << 16) | (rounded[..., 1] << 8) | rounded[..., 2]
            unique, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
        colours = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], axis=1)
        return cls(colours.astype(float), counts, inverse.reshape(rgb.shape[:2]))


@dataclass(frozen=True)
class Picture:
    rgb: np.ndarray  # H x W x 3, uint8
    original_size: tuple[int, int]  # (width, height) of the file
    background: np.ndarray  # (3,) the colour along the border

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @cached_property
    def colour_table(self) -> ColourTable:
        return ColourTable.of(self.rgb)

    def image(self) -> Image.Image:
        return Image.fromarray(self.rgb)

    def content(self) -> np.ndarray:
        """Pixels that differ from the background."""
        difference = np.abs(self.rgb.astype(np.int16) - self.background.astype(np.int16))
        return difference.max(axis=2) > BACKGROUND_TOLERANCE

    def content_box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the content; the whole picture when it is blank."""
        mask = self.content()
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if not len(rows):
            return 0, 0, self.width, self.height
        return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, span = float(values.min()), float(np.ptp(values)) or 1.0
        return Image.fromarray(((values - low) * (255 / span)).astype(np.uint8)).convert("RGB")
    transparent = image.mode == "P" and "transparency" in image.info
    if transparent or image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError:  # modes PIL cannot convert directly (e.g. LAB): keep the first band
        return image.getchannel(0).convert("RGB")


def _border_colour(rgb: np.ndarray) -> np.ndarray:
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    values, counts = np.unique(border, axis=0, return_counts=True)
    return values[np.argmax(counts)].astype(np.uint8)


def load_picture(source: str | Path | Image.Image) -> Picture:
    if isinstance(source, Image.Image):
        image = source
        image.load()
    else:
        with Image.open(source) as opened:
            opened.load()
            image = opened.copy()
    image = ImageOps.exif_transpose(image) or image
    original = image.size
    if max(image.size) > MAX_SIDE:
        factor = max(image.size) / MAX_SIDE
        size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
        image = _to_rgb(image).resize(size, Image.BOX)
    rgb = np.asarray(_to_rgb(image), dtype=np.uint8).copy()
    return Picture(rgb=rgb, original_size=original, background=_border_colour(rgb))


def fit_size(source: str | Path) -> tuple[int, int] | None:
    """The pixel size to save a candidate figure at for comparison with ``source``: its own
    size, reduced like ``load_picture`` reduces it (header only; None when unreadable)."""
    try:
        with Image.open(source) as opened:
            width, height = opened.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    if width < 1 or height < 1:
        return None
    factor = max(1.0, max(width, height) / MAX_SIDE)
    return max(1, round(width / factor)), max(1, round(height / factor))
