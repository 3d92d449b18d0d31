"""OCR of task images (Debian's tesseract-ocr through pytesseract), cached by content."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections import OrderedDict
from functools import cache
from pathlib import Path
from types import ModuleType

from PIL import Image, ImageOps
from pydantic import BaseModel, Field

INSTALL_HINT = (
    "install it with `apt-get install tesseract-ocr` and `pip install 'autorust[ocr]'` "
    "(or `bash scripts/setup.sh`)"
)
MIN_HEIGHT_FOR_OCR = 300  # tiny images are upscaled; screenshot-sized text reads best as is
CACHE_ENTRIES = 256


class OcrUnavailableError(RuntimeError):
    pass


class OcrWord(BaseModel):
    text: str
    confidence: float  # 0..100
    # where the word is, in pixels of the image as given (before any upscaling or rotation)
    left: int = 0
    top: int = 0
    width: int = 0
    height: int = 0

    @property
    def centre(self) -> tuple[float, float]:
        return self.left + self.width / 2, self.top + self.height / 2


class OcrResult(BaseModel):
    text: str = Field(description="lines in reading order, words joined by single spaces")
    engine: str
    confidence: float = Field(description="mean word confidence, 0..100")
    duration_s: float
    words: list[OcrWord] = Field(default_factory=list)


def _pytesseract() -> ModuleType | None:
    """pytesseract, an optional dependency (extra ``ocr``)."""
    try:
        import pytesseract
    except ImportError:
        return None
    return pytesseract


@cache
def _probe(command: str) -> str | None:
    pytesseract = _pytesseract()
    if pytesseract is None or shutil.which(command) is None:
        return None
    try:
        return f"tesseract {pytesseract.get_tesseract_version()}"
    except (pytesseract.TesseractNotFoundError, OSError):
        return None


def _engine() -> str | None:
    pytesseract = _pytesseract()
    if pytesseract is None:
        return None
    # keyed by the configured binary, so pointing pytesseract elsewhere re-probes
    return _probe(str(pytesseract.pytesseract.tesseract_cmd))


def ocr_available() -> bool:
    return _engine() is not None


def require_ocr() -> str:
    engine = _engine()
    if engine is None:
        raise OcrUnavailableError(
            f"OCR was requested but tesseract is not available: {INSTALL_HINT}"
        )
    return engine


def _prepare(image: Image.Image) -> Image.Image:
    grey = ImageOps.grayscale(image)
    if grey.height < MIN_HEIGHT_FOR_OCR:
        factor = min(3.0, MIN_HEIGHT_FOR_OCR / max(1, grey.height))
        grey = grey.resize((int(grey.width * factor), int(grey.height * factor)), Image.LANCZOS)
    return ImageOps.autocontrast(grey)


_CACHE: OrderedDict[str, OcrResult] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _load(image: str | Path | Image.Image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    with Image.open(image) as opened:
        opened.load()
        return opened.copy()


def _source_box(
    box: tuple[int, int, int, int], rotation: int, size: tuple[int, int], upscale: float
) -> dict[str, int]:
    """A word's box in the reading (turned by ``rotation``, upscaled) mapped back to the image."""
    left, top, width, height = box
    turned_width, turned_height = size
    quarter = (rotation // 90) % 4
    if quarter == 1:  # counter-clockwise: the reading's x runs up the source
        left, top, width, height = turned_height - top - height, left, height, width
    elif quarter == 2:
        left, top = turned_width - left - width, turned_height - top - height
    elif quarter == 3:  # clockwise (-90): the reading's x runs down the source
        left, top, width, height = top, turned_width - left - width, height, width
    return {
        "left": round(left / upscale), "top": round(top / upscale),
        "width": round(width / upscale), "height": round(height / upscale),
    }  # fmt: skip


def read_text(
    image: str | Path | Image.Image, *, sparse: bool = False, rotation: int = 0
) -> OcrResult:
    """Text in reading order, lines kept. ``sparse`` suits charts (scattered labels);
    ``rotation`` (degrees counter-clockwise) turns the image first, e.g. -90 makes a
    matplotlib y-axis label horizontal.

    Raises ``OcrUnavailableError`` without tesseract.
    """
    engine = require_ocr()
    picture = _load(image)
    config = "--psm 11" if sparse else "--psm 6"
    key = hashlib.sha256(
        picture.tobytes() + f"{picture.mode}{picture.size}{config}{rotation}".encode()
    ).hexdigest()
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    started = time.perf_counter()
    prepared = _prepare(picture)
    upscale = prepared.width / max(1, picture.width)
    if rotation:
        prepared = prepared.rotate(rotation, expand=True, fillcolor=255)
    # one tesseract pass gives words, confidences and line numbers: the text is rebuilt from it
    pytesseract = _pytesseract()
    data = pytesseract.image_to_data(prepared, config=config, output_type=pytesseract.Output.DICT)
    lines: dict[tuple[int, int, int], list[str]] = {}
    words: list[OcrWord] = []
    for index, token in enumerate(data["text"]):
        confidence = float(data["conf"][index])
        if confidence < 0 or not token.strip():
            continue
        line = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
        lines.setdefault(line, []).append(token.strip())
        box = _source_box(
            (data["left"][index], data["top"][index], data["width"][index], data["height"][index]),
            rotation,
            prepared.size,
            upscale,
        )
        words.append(OcrWord(text=token.strip(), confidence=confidence, **box))
    result = OcrResult(
        text="\n".join(" ".join(tokens) for tokens in lines.values()),
        engine=engine,
        confidence=round(sum(w.confidence for w in words) / len(words), 1) if words else 0.0,
        duration_s=round(time.perf_counter() - started, 3),
        words=words,
    )
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    return result
