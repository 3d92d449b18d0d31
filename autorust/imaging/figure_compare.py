"""Deterministic similarity between a target chart image and a rendering of generated code.

Both images are flattened to RGB on white and cropped to their non-white content; the crops are
resized to ``SIZE`` for the pixel measures. Three measurements, each in 0..1:

- ``ssim``: structural similarity (scikit-image) of the two greyscale images, clipped at 0;
- ``colour_score``: Jaccard overlap of their *palettes*: the hue bins (12 x 30 degrees, named
  red, orange, yellow, ...) that cover at least 0.3% of the image with saturated colour;
- ``text_score``: share of the target's words (3+ letters, OCR confidence >= 60, read
  horizontally and rotated for y-axis labels) found anywhere in the rendering's OCR text;
  only when OCR is available.

``score = 0.5 * ssim + 0.25 * colour_score + 0.25 * text_score`` (without OCR:
``2/3 * ssim + 1/3 * colour_score``). The checker accepts a rendering when the score reaches
the threshold (``figure_threshold``, default 0.9) *and* at least 90% of the target's words are
present (``FigureComparison.meets``). A chart-type cue compares the share of the image covered by
saturated colour (bars and areas cover much, lines little). Every difference found becomes a
sentence for the coder in ``differences``; colours are named by hue and by the hex value most
used for that hue in the image.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops
from skimage.metrics import structural_similarity

from autorust.graph.state import FigureComparison
from autorust.imaging.ocr import ocr_available, read_text

SIZE = (480, 360)
# 12 hue bins of 30 degrees centred on these names (red at 0 degrees)
HUE_NAMES = ["red", "orange", "yellow", "yellow-green", "green", "spring green", "cyan",
             "azure (mid blue)", "blue", "violet", "magenta", "rose"]  # fmt: skip
MIN_SHARE = 0.003
FILLED_CHART = 0.06  # share of saturated pixels above which a chart looks like bars/areas
SSIM_LAYOUT = 0.9  # below this the layout/shapes are reported as different
MIN_WORD_CONFIDENCE = 60  # target words below it are OCR noise, not labels to demand
WORD = re.compile(r"[A-Za-z]{3,}")
ASPECT_TOLERANCE = 0.03


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _crop(image: Image.Image) -> Image.Image:
    rgb = _flatten(image)
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    return rgb.crop(box) if box else rgb


def _hue_bins(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: is it saturated colour, and its hue bin (0..11)."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.float32)
    saturated = (hsv[..., 1] > 90) & (hsv[..., 2] > 60)
    degrees = hsv[..., 0] * 360 / 256
    return saturated, (((degrees + 15) % 360) // 30).astype(int)


def _palette(image: Image.Image) -> tuple[dict[str, float], float]:
    """Share of pixels per saturated hue bin, and the total saturated share."""
    saturated, bins = _hue_bins(image)
    shares = np.bincount(bins[saturated], minlength=12) / saturated.size
    palette = {HUE_NAMES[i]: float(s) for i, s in enumerate(shares) if s >= MIN_SHARE}
    return palette, float(saturated.mean())


def _hex_colours(image: Image.Image) -> dict[str, str]:
    """For each hue bin, the exact colour used most in it (from the full-resolution crop:
    resizing blends thin lines into the background)."""
    saturated, bins = _hue_bins(image)
    pixels = np.asarray(image, dtype=np.uint32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    colours: dict[str, str] = {}
    for index, name in enumerate(HUE_NAMES):
        values, counts = np.unique(packed[saturated & (bins == index)], return_counts=True)
        if len(values):
            colours[name] = f"#{int(values[np.argmax(counts)]):06x}"
    return colours


def _words(image: Image.Image, min_confidence: float) -> Counter[str]:
    """Words with their counts: a label repeated elsewhere (title and axis) must stay twice."""
    found: Counter[str] = Counter()
    for rotation in (0, -90):  # -90: y-axis labels read bottom to top
        for word in read_text(image, sparse=True, rotation=rotation).words:
            if word.confidence >= min_confidence:
                found.update(w.lower() for w in WORD.findall(word.text))
    return found


def _aspect_difference(target: Image.Image, rendered: Image.Image) -> str | None:
    want, have = target.width / target.height, rendered.width / rendered.height
    if abs(want - have) / want <= ASPECT_TOLERANCE:
        return None
    return (
        f"the image proportions differ: target {target.width}x{target.height} px (aspect "
        f"{want:.2f}), rendering {rendered.width}x{rendered.height} px (aspect {have:.2f}); "
        f"at dpi=100 the target is figsize=({target.width / 100:g}, {target.height / 100:g})"
    )


def _colour_differences(
    want: dict[str, float], have: dict[str, float], target: Image.Image, rendered: Image.Image
) -> list[str]:
    differences: list[str] = []
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing:
        hexes = _hex_colours(target)
        differences += [f"colour {hexes[n]} ({n}) is missing from the rendering" for n in missing]
    if extra:
        hexes = _hex_colours(rendered)
        differences += [
            f"the rendering uses colour {hexes[n]} ({n}), which the target does not" for n in extra
        ]
    if len(have) < len(want):
        differences.append(
            f"the target shows {len(want)} distinct colours (series, bars or areas), the "
            f"rendering only {len(have)}: a data series may be missing"
        )
    return differences


def compare_figures(target_path: str | Path, rendered_path: str | Path) -> FigureComparison:
    with Image.open(target_path) as target_file, Image.open(rendered_path) as rendered_file:
        target_crop, rendered_crop = _crop(target_file), _crop(rendered_file)
        aspect = _aspect_difference(target_file, rendered_file)
    target = target_crop.resize(SIZE, Image.LANCZOS)
    rendered = rendered_crop.resize(SIZE, Image.LANCZOS)
    ssim = float(
        structural_similarity(
            np.asarray(target.convert("L")), np.asarray(rendered.convert("L")), data_range=255
        )
    )
    ssim = max(0.0, ssim)

    want, want_fill = _palette(target)
    have, have_fill = _palette(rendered)
    union = set(want) | set(have)
    colour_score = len(set(want) & set(have)) / len(union) if union else 1.0
    differences = _colour_differences(want, have, target_crop, rendered_crop)

    if (want_fill > FILLED_CHART) != (have_fill > FILLED_CHART):
        kind = {True: "bar/area chart (filled shapes)", False: "line/scatter chart"}
        differences.append(
            f"chart type differs: the target looks like a {kind[want_fill > FILLED_CHART]}, "
            f"the rendering like a {kind[have_fill > FILLED_CHART]}"
        )

    text_score = None
    if ocr_available():
        target_words = _words(target_crop, MIN_WORD_CONFIDENCE)
        # OCR misreads a word now and then at one scale but not another: the rendering is read
        # as it is and at the target's scale, and a word counts as present if either has it
        rendered_words = _words(rendered_crop, 0)
        if rendered_crop.size != target_crop.size:
            rendered_words |= _words(rendered_crop.resize(target_crop.size, Image.LANCZOS), 0)
        if target_words:
            text_score = (target_words & rendered_words).total() / target_words.total()
            if lost := sorted(target_words - rendered_words):
                differences.append(
                    "words missing from the rendering (title, axis labels, legend, ticks): "
                    + ", ".join(repr(w) for w in lost[:12])
                )
    if text_score is None:
        score = 2 / 3 * ssim + 1 / 3 * colour_score
    else:
        score = 0.5 * ssim + 0.25 * colour_score + 0.25 * text_score
    if aspect:
        differences.append(aspect)
    if ssim < SSIM_LAYOUT:
        differences.append(f"layout/shapes differ (structural similarity {ssim:.2f})")
    return FigureComparison(
        score=round(score, 4),
        ssim=round(ssim, 4),
        colour_score=round(colour_score, 4),
        text_score=None if text_score is None else round(text_score, 4),
        differences=differences,
    )
