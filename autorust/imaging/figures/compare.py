"""Compare a target chart with a rendering of generated code: a verdict and, for every
difference that fails it, a sentence the coder can act on.

Measured at a normalised size, so a faithful rendering at another size, dpi or line width
passes; sensitive to what the chart says: which colours are drawn and how much of the chart
each covers, where each series is (bar heights, line paths, markers), and, with OCR, the words
of the title, axis labels and legend and the numbers on the axes. The rules are in
docs/figures_and_ocr.md; every failed check is in ``failed_checks`` and a figure passes only
when there is none and the score reaches the threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError
from skimage.metrics import structural_similarity

import autorust.imaging.figures.colours as colours
import autorust.imaging.figures.geometry as geometry
import autorust.imaging.figures.geometry_report as geometry_report
import autorust.imaging.figures.text as text
from autorust.graph.state import FigureComparison
from autorust.imaging.figures.frames import Box, candidate_frames
from autorust.imaging.figures.loading import Picture, load_picture

LOG = logging.getLogger(__name__)
ASPECT_TOLERANCE = 0.05
SIGNIFICANT_SHARE = 0.0018  # of the image: a colour covering less may come and go with dpi
PRESENT = 0.3  # a colour is present when the other image has this share of its pixels
SHARE_TOLERANCE = 0.25  # relative difference of a filled colour's area share
SHARE_ABSOLUTE = 0.01  # and at least this share of the chart
BLOB_CELLS = 40  # a misplaced group of grid cells this large is a real difference
THIN_BLOB_CELLS = 20  # for lines and markers: a misplaced piece of line this long
MISMATCH_SHARE = 0.2  # or this share of a colour's cells misplaced (scattered markers)
MARKS_RATIO, MARKS_DIFFERENCE = 3, 10  # separate marks vs connected lines
WEIGHTS = {"geometry": 0.35, "colour": 0.2, "ssim": 0.15, "text": 0.3}


@dataclass
class Findings:
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Layer:
    """One palette colour in both images."""

    colour: colours.Colour
    label: str  # e.g. "series 2 (#ff7f0e, orange)"


def _aspect(target: Picture, rendered: Picture) -> str | None:
    (tw, th), (rw, rh) = target.original_size, rendered.original_size
    want, have = tw / max(1, th), rw / max(1, rh)
    if abs(want - have) / want <= ASPECT_TOLERANCE:
        return None
    return (
        f"the image proportions differ: target {tw}x{th} px (aspect {want:.2f}), rendering "
        f"{rw}x{rh} px (aspect {have:.2f}); at dpi=100 the target is "
        f"figsize=({tw / 100:g}, {th / 100:g})"
    )


def _ssim(target: Picture, rendered: Picture, frame: tuple[Box, Box]) -> float:
    def grey(picture: Picture, box: Box) -> np.ndarray:
        image = picture.image().crop(box).convert("L").resize(geometry.GRID, Image.BOX)
        return np.asarray(image.filter(ImageFilter.GaussianBlur(1)), dtype=np.float64)

    value = structural_similarity(grey(target, frame[0]), grey(rendered, frame[1]), data_range=255)
    return max(0.0, float(value))


def _colour_checks(
    target: Picture, rendered: Picture, findings: Findings
) -> tuple[list[colours.Colour], set[int], int]:
    """Missing and extra colours; returns the common palette, the indices in it that are
    drawn in both images, and how many colours count (drawn in both, missing or extra)."""
    want, have = colours.palette(target), colours.palette(rendered)
    want_share = colours.shares(colours.assign(target, want), len(want))
    have_share = colours.shares(colours.assign(rendered, have), len(have))
    there = [colours.presence(rendered, colour) for colour in want]
    back = [colours.presence(target, colour) for colour in have]
    short = [
        i
        for i in range(len(want))
        if want_share[i] >= SIGNIFICANT_SHARE and there[i] < PRESENT * want_share[i]
    ]
    over = [
        j
        for j in range(len(have))
        if have_share[j] >= SIGNIFICANT_SHARE and back[j] < PRESENT * have_share[j]
    ]
    # drawn in both, in very different amounts: an area-share difference, not a new colour
    missing = [i for i in short if there[i] < colours.MIN_COLOUR_SHARE]
    extra = [j for j in over if back[j] < colours.MIN_COLOUR_SHARE]
    findings.failed += [
        f"colour {want[i].describe()} covers about {want_share[i]:.1%} of the target but only "
        f"{there[i]:.1%} of the rendering: draw more of it (bars, areas or series in that colour)"
        for i in short
        if i not in missing
    ]
    findings.failed += [
        f"colour {have[j].describe()} covers about {have_share[j]:.1%} of the rendering but only "
        f"{back[j]:.1%} of the target: draw less of it"
        for j in over if j not in extra
    ]  # fmt: skip
    if len(missing) == 1 and len(extra) == 1:
        findings.failed.append(
            f"what the target draws in {want[missing[0]].describe()} (about "
            f"{want_share[missing[0]]:.1%} of the image) the rendering draws in "
            f"{have[extra[0]].describe()}: use {want[missing[0]].hex}"
        )
    else:
        findings.failed += [
            f"colour {want[i].describe()} (about {want_share[i]:.1%} of the image) is missing "
            "from the rendering" for i in missing
        ]  # fmt: skip
        findings.failed += [
            f"the rendering uses colour {have[j].describe()} (about {have_share[j]:.1%} of the "
            "image), which the target does not" for j in extra
        ]  # fmt: skip
        if len(missing) > len(extra):
            shown = len([s for s in want_share if s >= SIGNIFICANT_SHARE])
            findings.failed.append(
                f"the target shows {shown} distinct colours (series, bars or areas), the "
                f"rendering only {shown - len(missing) + len(extra)}: a data series may be missing"
            )
    common = want + [have[j] for j in extra]
    drawn = {
        i for i in range(len(want))
        if i not in missing and want_share[i] >= SIGNIFICANT_SHARE
    }  # fmt: skip
    return common, drawn, len(drawn) + len(missing) + len(extra)


def _best_frame(
    target: Picture, rendered: Picture, want_labels: np.ndarray, have_labels: np.ndarray,
    drawn: set[int],
) -> tuple[tuple[Box, Box], dict[int, geometry.LayerComparison]]:  # fmt: skip
    best: tuple[float, tuple[Box, Box], dict[int, geometry.LayerComparison]] | None = None
    for _, want_box, have_box in candidate_frames(target, rendered):
        layers = {
            k: geometry.compare_layer(
                geometry.grid_mask(want_labels == k, want_box),
                geometry.grid_mask(have_labels == k, have_box),
            )
            for k in sorted(drawn)
        }
        total = sum(layer.mismatch for layer in layers.values())
        if best is None or total < best[0]:
            best = (total, (want_box, have_box), layers)
    assert best is not None
    return best[1], best[2]


def _geometry_checks(
    common: list[colours.Colour],
    layers: dict[int, geometry.LayerComparison],
    marks: dict[int, tuple[int, int]],
    tick_names: list[tuple[float, str]],
    findings: Findings,
) -> float:
    agreements = []
    for k, layer in layers.items():
        agreements.append(layer.agreement)
        name = f"the {common[k].describe()} series"
        want_filled, have_filled = geometry.filled(layer.want), geometry.filled(layer.have)
        clear = geometry.clearly_thin(layer.want) or geometry.clearly_thin(layer.have)
        if want_filled != have_filled and clear:
            shape = {True: "filled shapes (bars, areas, wedges)", False: "lines or markers"}
            findings.failed.append(
                f"chart type differs: {name} is drawn as {shape[want_filled]} in the target, "
                f"as {shape[have_filled]} in the rendering"
            )
            continue
        wrong_cells = int(layer.missing.sum() + layer.extra.sum())
        largest = max(
            geometry_report.largest_blob(layer.missing), geometry_report.largest_blob(layer.extra)
        )
        if not want_filled and k in marks:
            many, few = max(marks[k]), min(marks[k])
            if many >= MARKS_RATIO * max(1, few) and many - few >= MARKS_DIFFERENCE:
                counts = {True: "many separate marks (markers, dashes, stems)",
                          False: "a few connected lines"}  # fmt: skip
                findings.failed.append(
                    f"chart type differs: {name} is drawn as {counts[marks[k][0] > marks[k][1]]} "
                    f"in the target ({marks[k][0]} pieces), as {counts[marks[k][1] > marks[k][0]]} "
                    f"in the rendering ({marks[k][1]})"
                )
                continue
        blob_cells = BLOB_CELLS if want_filled else THIN_BLOB_CELLS
        if largest >= blob_cells or (
            layer.mismatch >= MISMATCH_SHARE and wrong_cells >= blob_cells
        ):
            how = geometry_report.describe(
                layer.want, layer.have,
                geometry_report.large_blobs(layer.missing, min(largest, blob_cells) // 2),
                geometry_report.large_blobs(layer.extra, min(largest, blob_cells) // 2),
                want_filled, tick_names,
            )  # fmt: skip
            findings.failed.append(f"{name} differs in position or size: {how}")
            continue
        want_area, have_area = geometry.coverage(layer.want), geometry.coverage(layer.have)
        if want_filled and abs(want_area - have_area) > max(
            SHARE_ABSOLUTE, SHARE_TOLERANCE * max(want_area, have_area)
        ):
            findings.failed.append(
                f"{name} covers {have_area:.0%} of the chart, the target {want_area:.0%}: "
                "bars, areas or wedges differ in size or number"
            )
    return float(np.mean(agreements)) if agreements else 1.0


def _colour_score(layers: dict[int, geometry.LayerComparison], palette_size: int) -> float:
    """Share of the palette drawn in both images, times how alike the filled colours' areas
    are (lines and markers cover more or less with their width: no measure of the data)."""
    if not palette_size:
        return 1.0
    ratios = [
        min(layer.want.mean(), layer.have.mean()) / max(layer.want.mean(), layer.have.mean())
        for layer in layers.values()
        if geometry.filled(layer.want) and layer.have.any()
    ]
    return len(layers) / palette_size * (float(np.mean(ratios)) if ratios else 1.0)


def _compare(
    target_path: str | Path, rendered_path: str | Path, threshold: float
) -> FigureComparison:
    target, rendered = load_picture(target_path), load_picture(rendered_path)
    findings = Findings()
    if aspect := _aspect(target, rendered):
        findings.failed.append(aspect)
    common, drawn, counted = _colour_checks(target, rendered, findings)
    want_labels, have_labels = colours.assign(target, common), colours.assign(rendered, common)
    frame, layers = _best_frame(target, rendered, want_labels, have_labels, drawn)
    reading = text.compare_text(target, rendered, frame, findings.failed)
    marks = {
        k: (geometry.marks(want_labels == k), geometry.marks(have_labels == k)) for k in layers
    }
    geometry_score = _geometry_checks(common, layers, marks, reading.x_ticks, findings)
    colour_score = _colour_score(layers, counted)
    ssim = _ssim(target, rendered, frame)
    parts = {"geometry": geometry_score, "colour": colour_score, "ssim": ssim}
    if reading.score is not None:
        parts["text"] = reading.score
    score = sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS[k] for k in parts)
    if score < threshold and not findings.failed:
        findings.failed.append(
            f"the rendering is not similar enough to the target (score {score:.2f}, needed "
            f"{threshold:.2f}; layout similarity {ssim:.2f})"
        )
    return _result(score, ssim, colour_score, reading.score, findings)


def _result(
    score: float, ssim: float, colour_score: float, text_score: float | None, findings: Findings
) -> FigureComparison:
    return FigureComparison(
        score=round(min(1.0, max(0.0, score)), 4),
        ssim=round(ssim, 4),
        colour_score=round(colour_score, 4),
        text_score=None if text_score is None else round(text_score, 4),
        passed=not findings.failed,
        failed_checks=findings.failed,
        differences=list(findings.failed),
        notes=findings.notes,
    )


def compare_figures(
    target_path: str | Path, rendered_path: str | Path, *, threshold: float = 0.9
) -> FigureComparison:
    """The verdict on ``rendered_path`` as a reproduction of ``target_path``. Never raises:
    an image that cannot be read is a failed check that says so."""
    for role, path in (("target image", target_path), ("rendering", rendered_path)):
        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
            findings = Findings(failed=[f"the {role} {Path(path).name} cannot be read as an "
                                        f"image ({type(exc).__name__}: {exc})"])  # fmt: skip
            return _result(0.0, 0.0, 0.0, None, findings)
    try:
        return _compare(target_path, rendered_path, threshold)
    except Exception as exc:  # a bug here must not end the item without feedback
        LOG.exception("figure comparison failed on %s and %s", target_path, rendered_path)
        reason = f"the figure could not be compared ({type(exc).__name__}); "
        findings = Findings(failed=[reason + "check that output.png is an ordinary chart image"])
        return _result(0.0, 0.0, 0.0, None, findings)
