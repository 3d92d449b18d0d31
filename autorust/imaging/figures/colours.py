"""The chart's palette: the distinct saturated colours (series, bars, areas) and where they are.

Anti-aliased edges and transparent fills are tints of a colour toward the background, so a pixel
belongs to the palette colour whose background-to-colour segment it lies closest to.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from autorust.imaging.figures.loading import Picture

MIN_CHROMA = 25  # max - min channel: below this a pixel is grey, black or white
QUANTUM = 32  # colours are grouped in bins of 32 levels per channel to find the palette
MIN_COLOUR_SHARE = 0.001  # of the image: a rarer colour is no series
CANDIDATE_SHARE = 0.0002  # colour bins rarer than this are not even candidates
SAME_COLOUR = 40.0  # RGB distance within which two colours are one
MAX_COLOURS = 16
MERGE_TINT = 0.1  # a tint this far toward a colour is that colour's edge, within one image
DEEPER = 1.6  # presence: a colour's shades up to this much deeper count as the colour
EXPLAINED = 1.5 * SAME_COLOUR
MIN_TINT = 0.3  # a pixel must be at least this far from the background toward the colour
HUE_NAMES = ["red", "orange", "yellow", "yellow-green", "green", "spring green", "cyan",
             "azure blue", "blue", "violet", "magenta", "rose"]  # fmt: skip


@dataclass(frozen=True)
class Colour:
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)

    @property
    def name(self) -> str:
        red, green, blue = (c / 255 for c in self.rgb)
        hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
        if saturation < 0.15:
            return "grey"
        base = HUE_NAMES[int(((hue * 360) + 15) % 360 // 30)]
        if lightness > 0.75:
            return f"light {base}"
        return f"dark {base}" if lightness < 0.25 else base

    def describe(self) -> str:
        return f"{self.name} {self.hex}"

    def distance(self, other: Colour) -> float:
        return float(np.linalg.norm(np.subtract(self.rgb, other.rgb, dtype=float)))


def _chromatic(colours: np.ndarray) -> np.ndarray:
    """Per colour (N x 3), whether it is saturated enough to be a series colour."""
    return (colours.max(axis=-1) - colours.min(axis=-1)) >= MIN_CHROMA


def _tint_distance(
    pixels: np.ndarray, colour: np.ndarray, background: np.ndarray, beyond: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each pixel (N x 3) from the segment background -> colour (extended to
    ``beyond`` times its length), and how far along it the pixel is (0 = background,
    1 = the colour)."""
    direction = colour - background
    length = float(direction @ direction) or 1.0
    along = np.clip(((pixels - background) @ direction) / length, 0.0, beyond)
    nearest = background + along[:, None] * direction
    return np.linalg.norm(pixels - nearest, axis=1), along


def _candidates(picture: Picture) -> list[np.ndarray]:
    """Distinct colours among the saturated pixels: coarse colour bins, most used first, each
    as the exact colour used most in it; a colour and its tints become one."""
    table = picture.colour_table
    saturated = _chromatic(table.colours)
    if not saturated.any():
        return []
    exact, exact_counts = table.colours[saturated].astype(np.int64), table.counts[saturated]
    binned = (exact // QUANTUM) @ np.array([10_000, 100, 1])
    bins, inverse = np.unique(binned, return_inverse=True)
    bin_counts = np.bincount(inverse, weights=exact_counts)
    # per bin, the exact colour used most: sort by bin, then by count descending
    order = np.lexsort((-exact_counts, inverse))
    first = order[np.searchsorted(inverse[order], np.arange(len(bins)))]
    minimum = CANDIDATE_SHARE * picture.rgb.shape[0] * picture.rgb.shape[1]
    background = picture.background.astype(float)
    chosen: list[np.ndarray] = []
    for index in np.argsort(-bin_counts)[:400]:
        if bin_counts[index] < minimum:
            break
        colour = exact[first[index]].astype(float)
        if _is_faint(colour, background):
            continue
        # one colour and its tints (anti-aliased edges, thin lines at low dpi, transparency)
        # are one: the colour they are tints of is the one the code asked for. A near colour
        # that is no tint (an edge blended with black) keeps the more used one
        tinted = [k for k, known in enumerate(chosen) if _is_tint(known, colour, background)]
        if tinted:
            chosen[tinted[0]] = colour
            for k in reversed(tinted[1:]):
                del chosen[k]
            continue
        if not any(_same_colour(colour, known, background, tint=MERGE_TINT) and
                   _depth(colour, background) <= _depth(known, background) + SAME_COLOUR
                   for known in chosen):  # fmt: skip
            chosen.append(colour)
    return chosen


def _is_tint(pale: np.ndarray, deep: np.ndarray, background: np.ndarray) -> bool:
    """``pale`` lies on the segment from the background to ``deep``, short of it."""
    distance, along = _tint_distance(pale[None], deep, background)
    return bool(along[0] < 0.97 and distance[0] < SAME_COLOUR / 2)


def _same_colour(
    first: np.ndarray, second: np.ndarray, background: np.ndarray, tint: float = 0.55
) -> bool:
    """Equal, or one is a tint of the other (it lies on the other's background segment)."""
    if float(np.linalg.norm(first - second)) < SAME_COLOUR:
        return True
    for pale, deep in ((first, second), (second, first)):
        distance, along = _tint_distance(pale[None], deep, background)
        if along[0] >= tint and distance[0] < SAME_COLOUR / 2:
            return True
    return False


def palette(picture: Picture) -> list[Colour]:
    """The distinct saturated colours that cover a visible share of the image, most used
    first."""
    candidates = [Colour(tuple(int(c) for c in colour)) for colour in _candidates(picture)]
    labels = assign(picture, candidates)
    counts = np.bincount(labels[labels >= 0].ravel(), minlength=len(candidates))
    minimum = MIN_COLOUR_SHARE * labels.size
    kept = [i for i in np.argsort(-counts, kind="stable") if counts[i] >= minimum]
    return [candidates[i] for i in kept[:MAX_COLOURS]]  # type: ignore[misc]


def shares(labels: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(labels[labels >= 0].ravel(), minlength=count)[:count] / max(1, labels.size)


def _depth(colour: np.ndarray, background: np.ndarray) -> float:
    return float(np.linalg.norm(colour - background))


def _is_faint(colour: np.ndarray, background: np.ndarray) -> bool:
    return float(np.abs(colour - background).max()) < 2 * MIN_CHROMA


def assign(picture: Picture, colours: list[Colour], beyond: float = 1.0) -> np.ndarray:
    """Per pixel, the index of its palette colour, or -1. ``beyond`` > 1 also takes deeper
    shades of a colour (a line drawn pale at a low dpi is full strength at a higher one)."""
    table = picture.colour_table
    choice = np.full(len(table.colours), -1, dtype=np.int16)
    saturated = np.flatnonzero(_chromatic(table.colours))
    if colours and len(saturated):
        pixels = table.colours[saturated]
        background = picture.background.astype(float)
        best = np.full(len(pixels), np.inf)
        for index, colour in enumerate(colours):
            distance, along = _tint_distance(
                pixels, np.array(colour.rgb, float), background, beyond
            )
            distance = np.where(along >= MIN_TINT, distance, np.inf)
            better = distance < best
            best[better] = distance[better]
            choice[saturated[better]] = index
        choice[saturated[best > SAME_COLOUR * 1.2]] = -1
    return choice[table.inverse]


def presence(picture: Picture, colour: Colour) -> float:
    """Share of the image drawn in ``colour`` or its tints, whatever else the palette holds."""
    return float(shares(assign(picture, [colour], beyond=DEEPER), 1)[0])


def explained(colour: Colour, others: list[Colour], background: np.ndarray) -> bool:
    """Close to one of ``others`` or to a tint of one: shades of one colour map, not a new
    colour."""
    point = np.array(colour.rgb, float)
    back = background.astype(float)
    for other in others:
        distance, _ = _tint_distance(point[None], np.array(other.rgb, float), back)
        if distance[0] < EXPLAINED:
            return True
    return False


def match(want: list[Colour], have: list[Colour], background: np.ndarray) -> dict[int, int]:
    """Target colour index -> rendering colour index, nearest pairs first; a tint matches the
    colour it is a tint of (thin lines drawn at a lower dpi)."""
    back = background.astype(float)
    pairs = sorted((w.distance(h), i, j) for i, w in enumerate(want) for j, h in enumerate(have))
    matched: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in pairs:
        if i in matched or j in used:
            continue
        if _same_colour(np.array(want[i].rgb, float), np.array(have[j].rgb, float), back):
            matched[i] = j
            used.add(j)
    return matched
