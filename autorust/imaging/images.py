"""Read an input image once: validate it, normalise it for the model, cache it by content hash.

Normalisation: EXIF orientation applied; first frame of animations; palette, grey, CMYK,
16-bit and alpha modes flattened to RGB on white; longest side at most ``MAX_MODEL_SIDE``,
except for very tall or wide pages (long side over ``TALL_RATIO`` times the short one), which
keep their resolution up to ``MAX_TALL_PIXELS`` so their text stays legible (the model layer
sends them as overlapping tiles: ``autorust/llm/images.py``); re-encoded as PNG. Anything
that cannot be read becomes an ``ImageInputError`` with a specific message, so one bad file
fails only its own item.
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_MODEL_SIDE = 2048
TALL_RATIO = 2.5
MAX_TALL_PIXELS = 16_000_000
MAX_TALL_SIDE = 32_000
MAX_PIXELS = 40_000_000  # ~ 6300 x 6300; above this a file is treated as a decompression bomb
MAX_FILE_BYTES = 50_000_000
EXIF_ORIENTATION = 0x0112
SUPPORTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"}


class ImageInputError(ValueError):
    """The file cannot be used as a task image; the message says why."""


@dataclass(frozen=True)
class LoadedImage:
    path: Path
    sha256: str
    width: int
    height: int
    png: bytes
    notes: tuple[str, ...] = field(default=())

    @property
    def data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda value: value / 256).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _decode(raw: bytes, path: Path) -> tuple[Image.Image, list[str]]:
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(raw))
            if img.format not in SUPPORTED_FORMATS:
                raise ImageInputError(
                    f"{path}: unsupported image format {img.format} "
                    f"(supported: {', '.join(sorted(SUPPORTED_FORMATS))})"
                )
            if img.width * img.height > MAX_PIXELS:
                raise ImageInputError(
                    f"{path}: {img.width}x{img.height} pixels is over the {MAX_PIXELS:,}-pixel "
                    "limit (possible decompression bomb)"
                )
            if getattr(img, "n_frames", 1) > 1:
                notes.append(f"animated image with {img.n_frames} frames: using the first")
                img.seek(0)
            img.load()
        except ImageInputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(
                f"{path}: refused as a possible decompression bomb ({exc})"
            ) from None
        except UnidentifiedImageError:
            raise ImageInputError(f"{path}: not an image (unrecognised file content)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageInputError(f"{path}: corrupt or truncated image ({exc})") from None
    if img.getexif().get(EXIF_ORIENTATION, 1) in (0, 1):
        return img, notes  # upright (exif_transpose would still copy it, losing its format)
    notes.append("EXIF orientation applied")
    return ImageOps.exif_transpose(img), notes


def normalised_size(width: int, height: int) -> tuple[int, int]:
    """Longest side at most ``MAX_MODEL_SIDE``; tall or wide pages keep their resolution
    (within ``MAX_TALL_PIXELS`` and ``MAX_TALL_SIDE``) instead of losing their short side."""
    long, short = max(width, height), min(width, height)
    if long <= short * TALL_RATIO:
        scale = min(1.0, MAX_MODEL_SIDE / long)
    else:
        scale = min(1.0, (MAX_TALL_PIXELS / (width * height)) ** 0.5, MAX_TALL_SIDE / long)
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(path: str | Path, cache_dir: str | Path | None = None) -> LoadedImage:
    path = Path(path)
    if not path.is_file():
        raise ImageInputError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ImageInputError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise ImageInputError(f"{path}: {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
    raw = path.read_bytes()
    sha256 = hashlib.sha256(raw).hexdigest()
    # "-2": normalised with the tall-page rule (older entries shrank tall pages to 2048 px)
    cached = Path(cache_dir) / f"{sha256}-2.png" if cache_dir else None
    if cached is not None and cached.is_file():
        with Image.open(cached) as img:
            return LoadedImage(path, sha256, img.width, img.height, cached.read_bytes())
    img, notes = _decode(raw, path)
    target = normalised_size(*img.size)
    if img.format == "PNG" and img.mode == "RGB" and not notes and target == img.size:
        png, (width, height) = raw, img.size  # already what the model gets: no re-encoding
    else:
        normalised = _flatten(img)
        if target != normalised.size:
            notes.append(f"downscaled from {normalised.width}x{normalised.height}")
            if max(target) <= MAX_MODEL_SIDE:
                normalised.thumbnail((MAX_MODEL_SIDE, MAX_MODEL_SIDE))
            else:  # a tall or wide page, scaled down less
                normalised = normalised.resize(target, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        normalised.save(buffer, format="PNG")  # optimize=True costs ~4x the time for ~3%
        png, (width, height) = buffer.getvalue(), normalised.size
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".tmp")
        temporary.write_bytes(png)
        temporary.replace(cached)
    return LoadedImage(path, sha256, width, height, png, tuple(notes))


def _longest_dark_run(mask: np.ndarray) -> int:
    """Per row of ``mask``, the longest run of True; the maximum over rows."""
    best = 0
    for row in mask:
        padded = np.concatenate(([0], row.astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(padded))
        if len(edges):
            best = max(best, int((edges[1::2] - edges[::2]).max()))
    return best


def has_chart_axes(png: bytes, min_share: float = 0.4) -> bool:
    """A horizontal and a vertical straight dark line each spanning ``min_share`` of the
    picture: the axes of a chart (task screenshots of text have neither)."""
    with Image.open(io.BytesIO(png)) as img:
        grey = img.convert("L")
        grey.thumbnail((800, 800))
        dark = np.asarray(grey) < 110
    height, width = dark.shape
    return (
        _longest_dark_run(dark) >= min_share * width
        and _longest_dark_run(dark.T) >= min_share * height
    )
