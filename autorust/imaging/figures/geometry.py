"""Series geometry from pixels: each palette colour's mask on a normalised grid, compared by
how far each drawn cell is from the nearest cell of the same colour in the other image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.ndimage import distance_transform_edt

from autorust.imaging.figures.frames import Box

GRID = (160, 120)  # width, height of the normalised grid
MIN_MARK = 0.00002  # of the image: smaller pieces are anti-aliasing specks
COVERED = 0.08  # a grid cell is drawn when this share of its pixels has the colour
TOLERANCE = 0.015  # of the grid's diagonal: nearer than this is the same place


@dataclass(frozen=True)
class LayerComparison:
    """One colour's geometry in both images, on the grid of one frame."""

    want: np.ndarray  # bool grid, target
    have: np.ndarray  # bool grid, rendering
    missing: np.ndarray  # target cells with no rendering cell nearby
    extra: np.ndarray  # rendering cells with no target cell nearby

    @property
    def mismatch(self) -> float:
        """Share of drawn cells that have no counterpart, the worse of both directions."""
        return max(
            self.missing.sum() / max(1, self.want.sum()), self.extra.sum() / max(1, self.have.sum())
        )

    @property
    def agreement(self) -> float:
        """Share of all drawn cells, both images together, that have a counterpart."""
        wrong = int(self.missing.sum() + self.extra.sum())
        return 1.0 - wrong / max(1, int(self.want.sum() + self.have.sum()))


def grid_mask(mask: np.ndarray, box: Box, grid: tuple[int, int] = GRID) -> np.ndarray:
    left, top, right, bottom = box
    crop = mask[top:bottom, left:right]
    if crop.size == 0:
        return np.zeros(grid[::-1], dtype=bool)
    image = Image.fromarray(crop.astype(np.uint8) * 255)
    return np.asarray(image.resize(grid, Image.BOX), dtype=np.float32) / 255 >= COVERED


def compare_layer(want: np.ndarray, have: np.ndarray) -> LayerComparison:
    tolerance = TOLERANCE * float(np.hypot(*want.shape))
    return LayerComparison(
        want, have, want & _far_from(have, tolerance), have & _far_from(want, tolerance)
    )


def _far_from(mask: np.ndarray, tolerance: float) -> np.ndarray:
    if not mask.any():
        return np.ones_like(mask)
    return distance_transform_edt(~mask) > tolerance


def coverage(grid: np.ndarray) -> float:
    return float(grid.mean())


def thickness(grid: np.ndarray) -> float:
    """How deep inside its shapes a colour's cells are (75th percentile, in cells)."""
    if not grid.any():
        return 0.0
    inside = distance_transform_edt(grid)
    return float(np.percentile(inside[grid], 75))


def filled(grid: np.ndarray) -> bool:
    """Bars, areas and wedges fill their cells; lines and markers are thin."""
    return thickness(grid) >= 3.0


def clearly_thin(grid: np.ndarray) -> bool:
    return thickness(grid) <= 1.6


def marks(mask: np.ndarray) -> int:
    """Separate marks of one colour at full resolution (markers, dashes, bars, pieces of
    line), ignoring specks of a few pixels."""
    if not mask.any():
        return 0
    # gaps of a pixel or two are anti-aliasing (a line over a grey panel), not two marks
    # a pixel per 400 of height (a proxy for the dpi): dash gaps are wider at any dpi
    joined = ndimage.binary_dilation(mask, iterations=max(1, round(mask.shape[0] / 400)))
    labels, _ = ndimage.label(joined, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), weights=mask.ravel())[1:]
    return int((sizes >= max(4, MIN_MARK * mask.size)).sum())
