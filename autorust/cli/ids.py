"""Ids a person can type, as in git: unique prefixes, short forms that fit, "did you mean".

Pure functions over the known ids; the commands look the ids up and call these.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from autorust.cli.errors import ConfigError

MIN_SHORT = 8
SUGGESTIONS = 3


def shortest_prefixes(ids: Sequence[str], minimum: int = MIN_SHORT) -> dict[str, str]:
    """Each id's shortest prefix (at least ``minimum`` characters) that no other id shares."""
    unique = sorted(set(ids))
    short: dict[str, str] = {}
    for index, value in enumerate(unique):
        need = minimum
        for other in unique[max(0, index - 1) : index + 2]:
            if other == value:
                continue
            common = 0
            while common < min(len(value), len(other)) and value[common] == other[common]:
                common += 1
            need = max(need, common + 1)
        short[value] = value[:need]
    return short


def _suggest(given: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(given, list(known), n=SUGGESTIONS, cutoff=0.5)
    if not close:
        starts = [k for k in known if k[:4] == given[:4]]
        close = starts[:SUGGESTIONS]
    return f"; did you mean {' or '.join(close)}?" if close else ""


def resolve_id(given: str, known: Sequence[str], what: str, where: str) -> str:
    """The one known id equal to ``given``, starting with it, or held in it (a result folder's
    name holds its thread id); else a ConfigError naming the candidates or the closest ids."""
    if given in known:
        return given
    matches = sorted({k for k in known if k.startswith(given)})
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise ConfigError(where, f"{given!r} is ambiguous: {len(matches)} {what}s start with it "
                                 f"({shown}); type more characters")  # fmt: skip
    inside = sorted((k for k in known if len(k) >= MIN_SHORT and f"-{k}-" in f"-{given}-"),
                    key=len)  # fmt: skip
    if inside:
        return inside[-1]
    raise ConfigError(where, f"no {what} {given!r}{_suggest(given, known)}")
