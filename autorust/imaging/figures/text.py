"""What the chart says, read by OCR: the words of the title, axis labels and legend, and the
numbers on the axes, compared between target and rendering.

A target word is *required* when OCR read it confidently and it is a dictionary word (3-letter
words need more confidence), or when OCR is very sure of it: chart graphics read as letters
(``mmm``, ``methoa``) are never demanded. The rendering is read at its own size and, only when
something seems missing, again at the target's scale; a word counts as present when either
reading has it, a letter off at most.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from autorust.imaging.figures.frames import Box, axes_box
from autorust.imaging.figures.loading import Picture
from autorust.imaging.figures.words import is_word, near
from autorust.imaging.ocr import OcrWord, ocr_available, read_text

LETTERS = re.compile(r"[A-Za-z]{3,}")
NUMBER = re.compile(r"^[(\[]?([-−–]?\d+(?:[.,]\d+)?)%?[)\].,:;]?$")
REQUIRED_CONFIDENCE = 60
SHORT_WORD_CONFIDENCE = 85  # 3-letter dictionary words are often glyph noise
SURE_CONFIDENCE = 93  # a non-dictionary word this sure is a label (a name, an acronym)
NUMBER_CONFIDENCE = 85
COLOURED = 40  # max - min channel: data, not text
DARK_INK = 160  # spines and tick marks: every channel below this
ROTATED = 90  # key of words read in the turned image (y-axis labels)


@dataclass(frozen=True)
class Token:
    text: str  # lower case letters, or the number as written
    orientation: int  # 0, or ROTATED
    confidence: float
    x: float  # centre, in picture pixels
    y: float


@dataclass
class Reading:
    score: float | None = None
    x_ticks: list[tuple[float, str]] = field(default_factory=list)  # position in frame, text


def _without_axis_lines(picture: Picture) -> Image.Image:
    """The picture with the spines, tick marks and grid lines whitened (OCR reads a tick mark
    beside a number as one more digit: '35-' as '354'), and the coloured data too: labels are
    black or grey, and big coloured shapes next to a title make tesseract skip it."""
    values = picture.rgb.astype(np.int16)
    coloured = (values.max(axis=2) - values.min(axis=2)) >= COLOURED
    box = axes_box(picture)
    if box is None:
        cleaned = picture.rgb.copy()
        cleaned[coloured] = picture.background
        return Image.fromarray(cleaned)
    dark = (picture.rgb < DARK_INK).all(axis=2)
    labels, _ = ndimage.label(dark, structure=np.ones((3, 3), dtype=bool))
    left, top, right, bottom = box
    edges = np.concatenate([
        labels[top:bottom, left], labels[top:bottom, right - 1],
        labels[top, left:right], labels[bottom - 1, left:right],
    ])  # fmt: skip
    touching = np.isin(labels, np.unique(edges[edges > 0])) | coloured
    cleaned = picture.rgb.copy()
    cleaned[touching] = picture.background
    return Image.fromarray(cleaned)


def _side_strips(picture: Picture) -> list[tuple[int, int]]:
    """Columns left and right of the axes, where turned text (y-axis labels) is: reading only
    these turned costs a fraction of reading the whole image turned."""
    box = axes_box(picture)
    left, right = (
        (box[0], box[2]) if box else (round(0.2 * picture.width), round(0.85 * picture.width))
    )
    strips = [(0, max(1, left)), (min(right, picture.width - 1), picture.width)]
    return [(a, b) for a, b in strips if b - a >= 4]


def _tokens(picture: Picture, scale: float, rotated: bool) -> list[Token]:
    image = _without_axis_lines(picture)
    if abs(scale - 1) > 0.05:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.LANCZOS)
    readings: list[tuple[int, int, Image.Image]] = [(0, 0, image)]
    if rotated:
        for a, b in _side_strips(picture):
            strip = image.crop((round(a * scale), 0, round(b * scale), image.height))
            readings.append((ROTATED, round(a * scale), strip))
    found: list[Token] = []
    for orientation, offset, part in readings:
        words: list[OcrWord] = read_text(part, sparse=True, rotation=-orientation).words
        for word in words:
            x, y = word.centre
            pieces = LETTERS.findall(word.text) or ([word.text] if NUMBER.match(word.text) else [])
            for piece in pieces:
                text = piece if NUMBER.match(piece) else piece.lower()
                token = Token(text, orientation, word.confidence, (x + offset) / scale, y / scale)
                found.append(token)
    return found


def _required(token: Token) -> bool:
    if NUMBER.match(token.text) or len(set(token.text)) == 1:
        return False
    if token.confidence >= SURE_CONFIDENCE and len(token.text) >= 4:
        return True
    needed = SHORT_WORD_CONFIDENCE if len(token.text) == 3 else REQUIRED_CONFIDENCE
    return token.confidence >= needed and is_word(token.text)


def _region(token: Token, box: Box | None, picture: Picture) -> str:
    left, top, right, bottom = box or (
        0.12 * picture.width,
        0.12 * picture.height,
        0.9 * picture.width,
        0.88 * picture.height,
    )
    if token.orientation == ROTATED:
        return "y-axis label" if token.x < (left + right) / 2 else "right axis label"
    if token.y < top:
        return "title"
    if token.y > bottom:
        return "x-axis label or tick"
    if token.x < left:
        return "y-axis tick"
    if token.x > right:
        return "right axis or colour bar"
    return "legend or annotation"


def _number(text: str) -> float | None:
    match = NUMBER.match(text)
    if not match:
        return None
    try:
        return float(match.group(1).replace("−", "-").replace("–", "-").replace(",", "."))
    except ValueError:
        return None


def _axis(token: Token, box: Box | None, picture: Picture) -> str | None:
    region = _region(token, box, picture)
    return {"y-axis tick": "y axis", "x-axis label or tick": "x axis",
            "right axis or colour bar": "right axis"}.get(region)  # fmt: skip


def _missing_words(required: list[Token], present: list[Token]) -> list[Token]:
    pool = Counter((t.orientation, t.text) for t in present)
    lost = []
    for token in required:
        key = (token.orientation, token.text)
        if pool[key] > 0:
            pool[key] -= 1
            continue
        similar = next(
            (k for k, n in pool.items() if n > 0 and k[0] == token.orientation
             and _similar(token.text, k[1])), None
        )  # fmt: skip
        if similar:
            pool[similar] -= 1
            continue
        lost.append(token)
    return lost


def _similar(word: str, read: str) -> bool:
    return near(word, read) or (len(word) >= 4 and word in read)


def _digits(value: float) -> str:
    return f"{abs(value):g}".replace(".", "").lstrip("0") or "0"


def _span(values: list[float]) -> str:
    return f"{min(values):g}-{max(values):g}" if len(values) > 1 else f"{values[0]:g}"


def _number_checks(
    target: Picture, rendered: Picture, want: list[Token], have: list[Token], failed: list[str]
) -> tuple[int, int]:
    want_box, have_box = axes_box(target), axes_box(rendered)
    checked = wrong = 0
    for axis in ("y axis", "x axis", "right axis"):
        mine = [t for t in want if t.orientation == 0 and _axis(t, want_box, target) == axis]
        theirs = [t for t in have if t.orientation == 0 and _axis(t, have_box, rendered) == axis]
        sure_want = {v for t in mine if t.confidence >= NUMBER_CONFIDENCE
                     and (v := _number(t.text)) is not None}  # fmt: skip
        all_want = {v for t in mine if (v := _number(t.text)) is not None}
        sure_have = {v for t in theirs if t.confidence >= NUMBER_CONFIDENCE
                     and (v := _number(t.text)) is not None}  # fmt: skip
        all_have = {v for t in theirs if (v := _number(t.text)) is not None}
        if len(sure_want) < 2:
            continue
        checked += 1
        # compared as digit strings: OCR drops decimal points and minus signs now and then
        lost = {v for v in sure_want if _digits(v) not in {_digits(h) for h in all_have}}
        new = {v for v in sure_have if _digits(v) not in {_digits(w) for w in all_want}}
        # a misread digit makes one new and one lost number: two of each are the chart
        if len(new) >= 2 and len(lost) >= 2:
            wrong += 1
            failed.append(
                f"the {axis} reads {_span(sorted(all_have))}, the target {_span(sorted(all_want))}"
                f" (target ticks {', '.join(f'{v:g}' for v in sorted(all_want))}): match the "
                "axis range and the data"
            )
    return checked, wrong


def compare_text(
    target: Picture, rendered: Picture, frame: tuple[Box, Box], failed: list[str]
) -> Reading:
    """Adds a sentence to ``failed`` for each missing word group and each axis that reads
    other numbers; the score is the share of required words and checked axes that match."""
    if not ocr_available():
        return Reading()
    want = _tokens(target, 1.0, rotated=True)
    required = [t for t in want if _required(t)]
    rotated = any(t.orientation == ROTATED for t in required)
    have = _tokens(rendered, 1.0, rotated=rotated)
    lost = _missing_words(required, have)
    scale = target.width / rendered.width
    for again in (scale, max(2.0, 1.5 * scale)):  # small text reads better enlarged
        if not lost:
            break
        have = have + _tokens(rendered, again, rotated=rotated)
        lost = _missing_words(required, have)
    box = axes_box(target)
    if lost:
        by_region: dict[str, list[str]] = {}
        for token in lost:
            by_region.setdefault(_region(token, box, target), []).append(token.text)
        groups = [f"{region} {', '.join(map(repr, words))}" for region, words in by_region.items()]
        failed.append("words missing from the rendering: " + "; ".join(groups))
    numbers: list[str] = []
    checked, wrong = _number_checks(target, rendered, want, have, numbers)
    if wrong:  # OCR misses small digits at one scale and not another: read both once more
        more_want = want + _tokens(target, rendered.width / target.width, rotated=False)
        more_want += _tokens(target, 2.0, rotated=False)
        more_have = have + _tokens(rendered, max(2.0, 2.0 * scale), rotated=False)
        numbers = []
        checked, wrong = _number_checks(target, rendered, more_want, more_have, numbers)
    failed += numbers
    total = len(required) + checked
    score = 1.0 if not total else (len(required) - len(lost) + checked - wrong) / total
    left, _, right, _ = frame[0]
    below = [t for t in want if t.orientation == 0 and _region(t, box, target).startswith("x-")]
    # the tick labels are the first line under the axes; the axis label is further down
    first_line = min((t.y for t in below), default=0.0) + 0.02 * target.height
    ticks = sorted(
        ((t.x - left) / max(1, right - left), t.text) for t in below if t.y <= first_line
    )
    return Reading(score=score, x_ticks=[(p, w.title() if w.isalpha() else w) for p, w in ticks])
