"""Read an input image once: content hash, validation, and a model-ready PNG data URL."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_MODEL_SIDE = 2048


class ImageInputError(ValueError):
    """The file cannot be used as a task image; the message says why."""


@dataclass(frozen=True)
class LoadedImage:
    path: Path
    sha256: str
    width: int
    height: int
    png: bytes

    @property
    def data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_image(path: str | Path) -> LoadedImage:
    path = Path(path)
    if not path.is_file():
        raise ImageInputError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw:
        raise ImageInputError(f"{path}: the file is empty")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            normalised = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageInputError(f"{path}: not a readable image ({exc})") from exc
    normalised.thumbnail((MAX_MODEL_SIDE, MAX_MODEL_SIDE))
    buffer = io.BytesIO()
    normalised.save(buffer, format="PNG", optimize=True)
    return LoadedImage(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        width=normalised.width,
        height=normalised.height,
        png=buffer.getvalue(),
    )
