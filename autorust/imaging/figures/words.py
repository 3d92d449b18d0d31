"""Which words read by OCR are real words: an offline dictionary (Debian's wamerican,
/usr/share/dict/words, installed by scripts/setup.sh)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

DICTIONARIES = ("/usr/share/dict/words", "/usr/share/dict/american-english",
                "/usr/share/dict/british-english")  # fmt: skip


@cache
def dictionary() -> frozenset[str]:
    """Lower-case words of the first dictionary found (``AUTORUST_WORDS`` names another);
    empty when there is none: then only very confident OCR words count."""
    candidates = [os.environ.get("AUTORUST_WORDS", ""), *DICTIONARIES]
    for candidate in candidates:
        path = Path(candidate) if candidate else None
        if path and path.is_file():
            lines = path.read_text(encoding="utf-8", errors="ignore").split()
            return frozenset(w.lower().removesuffix("'s") for w in lines)
    return frozenset()


def is_word(token: str) -> bool:
    return token.lower() in dictionary()


def near(word: str, other: str) -> bool:
    """Equal, or one letter changed, added or dropped (OCR misreads one glyph now and then)."""
    if word == other:
        return True
    if len(word) < 4 or abs(len(word) - len(other)) > 1:
        return False
    if len(word) == len(other):
        return sum(a != b for a, b in zip(word, other, strict=True)) <= 1
    short, long = sorted((word, other), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
