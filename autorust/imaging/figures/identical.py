"""Are two renders of the same code the same picture? (Unseeded randomness makes them differ.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from autorust.imaging.figures.loading import Picture, load_picture

# anti-aliasing is deterministic; PNG encoders differ in bytes, not pixels. A few levels of
# rounding on a few pixels are still the same picture
LEVELS = 8
MAX_CHANGED_SHARE = 1e-4


def renders_identical(first_path: str | Path, second_path: str | Path) -> bool:
    """True when both files decode to the same pixels (up to tiny rounding), whatever their
    bytes; False when they differ or either cannot be read."""
    try:
        first, second = load_picture(first_path), load_picture(second_path)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return False
    return same_pixels(first, second)


def same_pixels(first: Picture, second: Picture) -> bool:
    """``renders_identical`` for two pictures already decoded."""
    if first.rgb.shape != second.rgb.shape:
        return False
    changed = np.abs(first.rgb.astype(np.int16) - second.rgb.astype(np.int16)).max(axis=2) > LEVELS
    return bool(changed.mean() <= MAX_CHANGED_SHARE)
