"""Deterministic similarity between a target chart image and a rendering of generated code.

Both images are flattened to RGB, cropped to their non-white content and resized to
``SIZE``. Three measurements, each in 0..1:

- ``ssim``: structural similarity (scikit-image) of the two greyscale images;
- ``colour_score``: Jaccard overlap of their *palettes*: the hue bins (12 x 30 degrees, named
  red, orange, yellow, ...) that cover at least 0.3% of the image with saturated colour;
- ``text_score``: share of the target's words (OCR, 3+ letters) found in the rendering; only
  when OCR is available.

``score = 0.5 * ssim + 0.25 * colour_score + 0.25 * text_score`` (without OCR:
``2/3 * ssim + 1/3 * colour_score``). The checker accepts a rendering when the score reaches
the threshold (``figure_threshold``, default 0.9) *and* at least 90% of the target's words are
present (``FigureComparison.meets``). A chart-type cue compares the share of the image covered by
saturated colour (bars and areas cover much, lines little). Every difference found becomes a
sentence for the coder in ``differences``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops
from skimage.metrics import structural_similarity

from graph.state import FigureComparison
from nodes.ocr import ocr_available, read_text

SIZE = (480, 360)
# 12 hue bins of 30 degrees centred on these names (red at 0 degrees)
HUE_NAMES = ["red", "orange", "yellow", "yellow-green", "green", "spring green", "cyan",
             "azure (mid blue)", "blue", "violet", "magenta", "rose"]  # fmt: skip
MIN_SHARE = 0.003
FILLED_CHART = 0.06  # share of saturated pixels above which a chart looks like bars/areas
WORD = re.compile(r"[A-Za-z]{3,}")


def _content(image: Image.Image) -> Image.Image:
    rgb = image.convert("RGB")
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    return (rgb.crop(box) if box else rgb).resize(SIZE, Image.LANCZOS)


def _palette(image: Image.Image) -> tuple[dict[str, float], float]:
    """Share of pixels per saturated hue bin, and the total saturated share."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.float32)
    saturated = (hsv[..., 1] > 90) & (hsv[..., 2] > 60)
    degrees = hsv[..., 0][saturated] * 360 / 256
    bins = (((degrees + 15) % 360) // 30).astype(int)
    shares = np.bincount(bins, minlength=12) / saturated.size
    palette = {HUE_NAMES[i]: float(s) for i, s in enumerate(shares) if s >= MIN_SHARE}
    return palette, float(saturated.mean())


def _words(image: Image.Image) -> set[str]:
    return {w.lower() for w in WORD.findall(read_text(image, sparse=True).text)}


def compare_figures(target_path: str | Path, rendered_path: str | Path) -> FigureComparison:
    with Image.open(target_path) as target_file, Image.open(rendered_path) as rendered_file:
        target, rendered = _content(target_file), _content(rendered_file)
    ssim = float(
        structural_similarity(
            np.asarray(target.convert("L")), np.asarray(rendered.convert("L")), data_range=255
        )
    )
    ssim = max(0.0, ssim)
    differences: list[str] = []

    want, want_fill = _palette(target)
    have, have_fill = _palette(rendered)
    union = set(want) | set(have)
    colour_score = len(set(want) & set(have)) / len(union) if union else 1.0
    if missing := sorted(set(want) - set(have)):
        differences.append(f"colours missing from the rendering: {', '.join(missing)}")
    if extra := sorted(set(have) - set(want)):
        differences.append(
            f"colours in the rendering that the target does not use: {', '.join(extra)}"
        )

    if (want_fill > FILLED_CHART) != (have_fill > FILLED_CHART):
        kind = {True: "bar/area chart (filled shapes)", False: "line/scatter chart"}
        differences.append(
            f"chart type differs: the target looks like a {kind[want_fill > FILLED_CHART]}, "
            f"the rendering like a {kind[have_fill > FILLED_CHART]}"
        )

    text_score = None
    if ocr_available():
        target_words, rendered_words = _words(target), _words(rendered)
        if target_words:
            text_score = len(target_words & rendered_words) / len(target_words)
            if lost := sorted(target_words - rendered_words):
                differences.append(
                    f"text in the target missing from the rendering (title, axis labels, "
                    f"legend, ticks): {', '.join(lost[:12])}"
                )
    if text_score is None:
        score = 2 / 3 * ssim + 1 / 3 * colour_score
    else:
        score = 0.5 * ssim + 0.25 * colour_score + 0.25 * text_score
    if ssim < 0.9:
        differences.append(f"layout/shapes differ (structural similarity {ssim:.2f})")
    return FigureComparison(
        score=round(score, 4),
        ssim=round(ssim, 4),
        colour_score=round(colour_score, 4),
        text_score=None if text_score is None else round(text_score, 4),
        differences=differences,
    )
