"""OCR of task images (Debian's tesseract-ocr through pytesseract), cached by content."""

from __future__ import annotations

import hashlib
import shutil
import time
from functools import cache

import pytesseract
from PIL import Image, ImageOps
from pydantic import BaseModel

INSTALL_HINT = "install it with `apt-get install tesseract-ocr` (or `bash scripts/setup.sh`)"
MIN_HEIGHT_FOR_OCR = 300  # tiny images are upscaled; screenshot-sized text reads best as is


class OcrUnavailableError(RuntimeError):
    pass


class OcrResult(BaseModel):
    text: str
    engine: str
    confidence: float  # mean word confidence, 0..100
    duration_s: float


@cache
def _engine() -> str | None:
    command = pytesseract.pytesseract.tesseract_cmd
    if shutil.which(command) is None:
        return None
    try:
        return f"tesseract {pytesseract.get_tesseract_version()}"
    except (pytesseract.TesseractNotFoundError, OSError):
        return None


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


_CACHE: dict[str, OcrResult] = {}


def read_text(image: Image.Image, *, sparse: bool = False) -> OcrResult:
    """Text in reading order, lines kept. ``sparse`` suits charts (scattered labels).

    Raises ``OcrUnavailableError`` without tesseract.
    """
    engine = require_ocr()
    mode = "--psm 11" if sparse else "--psm 6"
    key = hashlib.sha256(image.tobytes() + f"{image.size}{mode}".encode()).hexdigest()
    if key in _CACHE:
        return _CACHE[key]
    started = time.perf_counter()
    prepared = _prepare(image)
    text = pytesseract.image_to_string(prepared, config="--psm 6")
    data = pytesseract.image_to_data(
        prepared, config="--psm 6", output_type=pytesseract.Output.DICT
    )
    confidences = [float(c) for c in data["conf"] if float(c) >= 0]
    result = OcrResult(
        text="\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip()),
        engine=engine,
        confidence=round(sum(confidences) / len(confidences), 1) if confidences else 0.0,
        duration_s=round(time.perf_counter() - started, 3),
    )
    _CACHE[key] = result
    return result
