"""Like with like: the candidate's figure saved again at the target's pixel size (by the figure
runner in the sandbox) is compared with the target pixel by pixel.

- The same pixels (a pixel's shift by one and anti-aliasing forgiven): the same picture, it
  passes whatever the tolerant comparison would say.
- The same layout (the axes, found from their spines, at the same pixels) but some places
  differ: every such place is a difference (the mapping from data to pixels is the same in
  both, so a bar, a line or a word drawn elsewhere is drawn differently), named from the
  candidate's exported facts (which text, which series) and measured on the target.
- Another layout: nothing is decided here (the tolerant comparison judges).

Only pixels decide that a place differs; the (untrusted) facts only name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from autorust.imaging.figures.facts import ArtistFact, AxesFact, RenderFacts, TextFact
from autorust.imaging.figures.frames import axes_box
from autorust.imaging.figures.loading import Picture
from autorust.imaging.ocr import OcrUnavailableError, ocr_available, read_text

LEVELS = 64  # a channel this much apart, after the best shift by up to one pixel
FAINT_LEVELS, FAINT_WIDTH = 5, 3  # or this much apart across an area this many pixels deep
MIN_PIXELS, MIN_SHARE = 12, 0.00015  # a differing place this large is a difference
LAYOUT_PX = 2  # axes boxes this close: the same layout
SAME_SHARE = 0.01  # or all but this share of the pixels the same: the same layout too
MAX_REPORTED = 4
COLOURED = 40  # max - min channel: data drawn in colour, not black or grey text
DATA_SHARE = 0.3  # of a place's differing pixels coloured: data differs there, not a font
ONE_SIDED = 0.25  # a place whose ink on one side is at most this share of the other side's:
# something drawn in one picture is not in the other (a mark left out), however small
TEXT_PIXELS = 12  # a text box with this many pixels differing under every shift: re-read it
TEXT_ROLES = ("title", "x label", "y label", "legend")
WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass
class Aligned:
    identical: bool
    same_layout: bool
    failures: list[str]


def _best_shift_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel of ``a``: the smallest largest-channel difference to ``b`` within one pixel."""
    padded = np.pad(b, ((1, 1), (1, 1), (0, 0)), mode="edge").astype(np.int16)
    h, w = a.shape[:2]
    a16 = a.astype(np.int16)
    best = np.full((h, w), 255, dtype=np.int16)
    for dy in range(3):
        for dx in range(3):
            diff = np.abs(a16 - padded[dy : dy + h, dx : dx + w]).max(axis=2)
            np.minimum(best, diff, out=best)
    return best


def differing(target: Picture, rendered: Picture) -> np.ndarray:
    """Pixels that differ under every shift by up to one pixel: by more than LEVELS, or by
    more than FAINT_LEVELS across a filled area (a pale fill left out or moved differs from
    white or from the next pale fill by less than LEVELS; an edge's anti-aliasing is thin)."""
    a, b = target.rgb, rendered.rgb
    forth, back = _best_shift_difference(a, b), _best_shift_difference(b, a)
    faint = ndimage.binary_opening((forth > FAINT_LEVELS) | (back > FAINT_LEVELS),
                                   iterations=FAINT_WIDTH)  # fmt: skip
    return (forth > LEVELS) | (back > LEVELS) | faint


def _same_layout(target: Picture, rendered: Picture) -> bool:
    want, have = axes_box(target), axes_box(rendered)
    if want is None or have is None:
        want, have = target.content_box(), rendered.content_box()
    return all(abs(p - q) <= LAYOUT_PX for p, q in zip(want, have, strict=False))


def _overlaps(box: list[float | None] | None, area: tuple[int, int, int, int], scale: float,
              pad: float = 2) -> bool:  # fmt: skip
    if not box or any(v is None for v in box):
        return False
    x0, y0, x1, y1 = (float(v) * scale for v in box)  # type: ignore[arg-type]
    left, top, right, bottom = area
    return x0 - pad < right and left < x1 + pad and y0 - pad < bottom and top < y1 + pad


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def _read(picture: Picture, box: list[float | None], scale: float, rotation: float) -> str:
    x0, y0, x1, y1 = (float(v or 0) * scale for v in box)
    crop = picture.image().crop(
        (
            max(0, int(x0) - 4),
            max(0, int(y0) - 4),
            min(picture.width, int(x1) + 5),
            min(picture.height, int(y1) + 5),
        )
    )
    crop = crop.resize((max(1, crop.width * 3), max(1, crop.height * 3)))
    turn = 0 if abs(rotation % 180) < 45 else -90 if rotation % 360 < 180 else 90
    try:
        return read_text(crop, rotation=turn).text
    except OcrUnavailableError:
        return ""


def _text_difference(
    text: TextFact, target: Picture, rendered: Picture, scale: float
) -> str | None:
    """A sentence naming the words that differ, or None when OCR reads the same words on
    both sides (a font or spacing difference, not another text)."""
    if not ocr_available() or text.box is None:
        return f"the {text.role} '{text.text}' is drawn differently from the image"
    seen = _read(target, text.box, scale, text.rotation or 0)
    mine = _read(rendered, text.box, scale, text.rotation or 0)
    want, have = _words(seen), _words(mine)
    if want == have:
        return None
    extra = [w for w in have if w not in want]
    missing = [w for w in want if w not in have]
    pairs = ", ".join(f"'{m}' vs '{e}'" for m, e in zip(missing, extra, strict=False))
    detail = f"word {pairs} (image vs rendering)" if pairs else f"the image reads '{seen.strip()}'"
    return f"the {text.role} '{text.text}' differs from the image: {detail}"


def _nearest_tick(ax: AxesFact, x: float, scale: float) -> str | None:
    ticks = [t for t in ax.texts if t.role == "x tick" and t.box and None not in t.box]
    if not ticks:
        return None
    best = min(ticks, key=lambda t: abs((float(t.box[0]) + float(t.box[2])) / 2 * scale - x))  # type: ignore[index,arg-type]
    return best.text


def _colour_run(target: Picture, column: int, start: int, step: int, colour: np.ndarray) -> int:
    """How many pixels from ``start`` along ``column`` (up: step -1) are ``colour``."""
    column = min(max(column, 0), target.width - 1)
    count, y = 0, start
    while 0 <= y < target.height:
        if np.abs(target.rgb[y, column].astype(np.int16) - colour).max() > LEVELS:
            break
        count, y = count + 1, y + step
    return count


def _bar_difference(artist: ArtistFact, ax: AxesFact, target: Picture, scale: float) -> str | None:
    if not artist.box or None in artist.box or not artist.colour:
        return None
    x0, y0, x1, y1 = (float(v) * scale for v in artist.box)  # type: ignore[arg-type]
    colour = np.array(artist.colour[:3]) * 255
    column = int((x0 + x1) / 2)
    horizontal = (x1 - x0) > (y1 - y0) * 3 and ax.yscale == "linear" and len(artist.data) == 4
    name = _nearest_tick(ax, (x0 + x1) / 2, scale)
    label = artist.label if artist.label and not artist.label.startswith("_") else "bar"
    what = f"the bar for '{name}'" if name else f"the {label} at x≈{column}px"
    if horizontal:
        return None
    height = y1 - y0
    if height < 2:
        return None
    up = (artist.data[3] or 0) >= 0 if len(artist.data) == 4 else True  # type: ignore[operator]
    base = round(y1 - 1) if up else round(y0)
    found = _colour_run(target, column, base, -1 if up else 1, colour)
    if found < 2:
        return f"{what} is drawn in a colour the image does not have there"
    change = height / found - 1
    if abs(change) < 0.04:
        return None
    return f"{what} is {abs(change):.0%} {'higher' if change > 0 else 'lower'} than in the image"


def _point_difference(artist: ArtistFact, ax: AxesFact, target: Picture, scale: float,
                      area: tuple[int, int, int, int]) -> str | None:  # fmt: skip
    if not artist.colour:
        return None
    colour = np.array(artist.colour[:3]) * 255
    left, top, right, bottom = area
    for (xd, yd), pixel in zip(artist.data, artist.pixels, strict=False):  # type: ignore[misc]
        if pixel is None or None in pixel:
            continue
        px, py = float(pixel[0]) * scale, float(pixel[1]) * scale  # type: ignore[arg-type]
        if not (left - 2 <= px <= right + 2 and top - 2 <= py <= bottom + 2):
            continue
        col = min(max(int(px), 0), target.width - 1)
        close = np.abs(target.rgb[:, col].astype(np.int16) - colour).max(axis=1) <= LEVELS
        rows = np.flatnonzero(close)
        series = (
            f"the {artist.label!r} series"
            if artist.label and not artist.label.startswith("_")
            else "a series"
        )
        if not len(rows):
            return f"{series} is drawn in a colour the image does not show at x={xd:g}"
        nearest = rows[np.argmin(np.abs(rows - py))]
        box = [float(v or 0) * scale for v in ax.box]
        ylim = ax.ylim
        if abs(nearest - py) < 2 or None in ylim or ax.yscale != "linear" or box[3] == box[1]:
            continue
        per_px = (float(ylim[1]) - float(ylim[0])) / (box[3] - box[1])  # type: ignore[arg-type]
        seen = float(ylim[0]) + (box[3] - nearest) * per_px  # type: ignore[arg-type]
        if yd is None:
            continue
        ratio = f" ({(yd - seen) / abs(seen):+.0%})" if abs(seen) > 1e-9 else ""
        return (
            f"{series} at x={xd:g} is at y={yd:g} in the rendering, "
            f"about {seen:.3g} in the image{ratio}"
        )
    return None


def _coloured_share(picture: Picture, mask: np.ndarray) -> float:
    values = picture.rgb[mask].astype(np.int16)
    if not len(values):
        return 0.0
    return float(((values.max(axis=1) - values.min(axis=1)) >= COLOURED).mean())


def _describe(area: tuple[int, int, int, int], facts: RenderFacts | None, target: Picture,
              rendered: Picture, scale: float, data: bool) -> str | None:  # fmt: skip
    """A sentence for one differing place; None when it is only text that OCR reads as the
    same words on both sides (and no coloured data differs there)."""
    left, top, right, bottom = area
    generic = (
        f"the rendering differs from the image at x {left}-{right}, y {top}-{bottom} px "
        f"(of {target.width}x{target.height})"
    )
    if facts is None:
        return generic
    for ax in facts.axes:
        for artist in ax.artists:
            said = None
            if artist.kind == "rectangle" and _overlaps(artist.box, area, scale):
                said = _bar_difference(artist, ax, target, scale)
            elif artist.kind in ("line", "points"):
                said = _point_difference(artist, ax, target, scale, area)
            if said is not None:
                return said
    roles = ("title", "x label", "y label", "legend", "text")
    texts = [t for _, t in facts.all_texts() if t.role in roles and _overlaps(t.box, area, scale)]
    for text in texts:
        if (said := _text_difference(text, target, rendered, scale)) is not None:
            return said
    return None if texts and not data else generic


def _ink(picture: Picture, region: np.ndarray) -> int:
    """Pixels of ``region`` drawn in something (more than LEVELS from the background)."""
    values = picture.rgb[region].astype(np.int16)
    background = np.asarray(picture.background, dtype=np.int16)[:3]
    return int((np.abs(values - background).max(axis=1) > LEVELS).sum())


def _one_sided(target: Picture, rendered: Picture, region: np.ndarray) -> bool:
    """Ink in one picture that the other does not have at all there: a mark drawn or left
    out, not the same mark shifted or anti-aliased (which has ink on both sides)."""
    want, have = _ink(target, region), _ink(rendered, region)
    return max(want, have) >= MIN_PIXELS and min(want, have) <= ONE_SIDED * max(want, have)


def _places(
    target: Picture, rendered: Picture, changed: np.ndarray, least: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The differing places that count, largest first: (region, differing pixels in it).
    A place counts when it is large (``least`` pixels) or when it is a mark one picture has
    and the other does not (at least MIN_PIXELS): a left-out marker is small but real."""
    labels, count = ndimage.label(ndimage.binary_dilation(changed, iterations=3))
    if not count:
        return []
    sizes = ndimage.sum(changed, labels, index=np.arange(1, count + 1))
    found = []
    for index in np.argsort(sizes)[::-1]:
        if sizes[index] < MIN_PIXELS:
            break
        region = labels == index + 1
        if sizes[index] >= least or _one_sided(target, rendered, region):
            found.append((region, region & changed))
    return found


def _shifted_text(target: Picture, rendered: Picture, box: list[float | None],
                  scale: float) -> bool:  # fmt: skip
    """Whether a text's box differs under every single shift by up to one pixel. The per-pixel
    best shift of ``differing`` forgives a replaced word in dense small text (glyph strokes
    find a stroke within one pixel almost everywhere); one shift for the whole box does not."""
    x0, y0, x1, y1 = (float(v or 0) * scale for v in box)
    left, top = max(1, int(x0) - 1), max(1, int(y0) - 1)
    right = min(target.width - 1, int(x1) + 2)
    bottom = min(target.height - 1, int(y1) + 2)
    if right - left < 3 or bottom - top < 3:
        return False
    a = target.rgb[top:bottom, left:right].astype(np.int16)
    fewest = min(
        int((np.abs(a - rendered.rgb[top + dy : bottom + dy, left + dx : right + dx]
                    .astype(np.int16)).max(axis=2) > LEVELS).sum())
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )  # fmt: skip
    return fewest >= TEXT_PIXELS


def _text_failures(target: Picture, rendered: Picture, facts: RenderFacts | None,
                   scale: float) -> list[str]:  # fmt: skip
    """Titles, axis labels and legend texts whose box differs under every shift and whose
    words OCR reads differently on the two sides (the facts only say where to look)."""
    if facts is None:
        return []
    failures: list[str] = []
    for _, text in facts.all_texts():
        if text.role not in TEXT_ROLES or not text.box or None in text.box:
            continue
        if not _shifted_text(target, rendered, text.box, scale):
            continue
        said = _text_difference(text, target, rendered, scale)
        if said and said not in failures:
            failures.append(said)
        if len(failures) >= MAX_REPORTED:
            break
    return failures


def compare_aligned(target: Picture, rendered: Picture, facts: RenderFacts | None) -> Aligned:
    if target.rgb.shape != rendered.rgb.shape:
        return Aligned(False, False, [])
    changed = differing(target, rendered)
    least = max(MIN_PIXELS, MIN_SHARE * changed.size)
    scale = target.width / max(1, facts.size[0]) if facts and facts.size else 1.0
    laid_out = changed.mean() <= SAME_SHARE or _same_layout(target, rendered)
    if laid_out and (words := _text_failures(target, rendered, facts, scale)):
        return Aligned(False, True, words)
    if changed.sum() < MIN_PIXELS:
        return Aligned(True, True, [])
    if changed.mean() > SAME_SHARE and not _same_layout(target, rendered):
        return Aligned(False, False, [])
    places = _places(target, rendered, changed, least)
    if not places and changed.sum() < least:
        return Aligned(True, True, [])
    failures: list[str] = []
    for region, place in places:
        if len(failures) >= MAX_REPORTED:
            break
        rows, cols = np.nonzero(region)
        area = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
        data = max(_coloured_share(target, place), _coloured_share(rendered, place)) >= DATA_SHARE
        said = _describe(area, facts, target, rendered, scale, data)
        if said and said not in failures:
            failures.append(said)
    return Aligned(False, True, failures)
