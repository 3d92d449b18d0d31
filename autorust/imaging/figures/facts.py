"""What the candidate's figure holds, as exported by the figure runner in the sandbox
(``figure.json``, see ``sandbox/figure_runner.py``): axes, artists with their data (in data
coordinates and in pixels of the fitted PNG), colours and texts.

Untrusted: the solution ran in the process that wrote it. Validated here with bounded sizes;
anything malformed is dropped (``load_facts`` returns None). Facts only ever *name* or *add*
differences: they never make a figure pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

MAX_BYTES = 4_000_000
Point = list[float | None]


class TextFact(BaseModel):
    role: str = Field(max_length=20)
    text: str = Field(max_length=400)
    box: list[float | None] | None = Field(None, max_length=4)
    colour: list[float] | None = None
    rotation: float | None = None


class ArtistFact(BaseModel):
    kind: Literal["line", "rectangle", "points"]
    label: str = Field("", max_length=400)
    colour: list[float] | None = Field(None, max_length=4)
    alpha: float | None = None
    data: list[Point] | Point = Field(default_factory=list, max_length=1000)
    pixels: list[Point | None] = Field(default_factory=list, max_length=1000)
    box: list[float | None] | None = Field(None, max_length=4)


class AxesFact(BaseModel):
    box: list[float | None] = Field(max_length=4)
    name: str = ""
    xlim: list[float | None] = Field(default_factory=list, max_length=2)
    ylim: list[float | None] = Field(default_factory=list, max_length=2)
    xscale: str = "linear"
    yscale: str = "linear"
    artists: list[ArtistFact] = Field(default_factory=list, max_length=400)
    texts: list[TextFact] = Field(default_factory=list, max_length=600)


class RenderFacts(BaseModel):
    size: list[int] = Field(max_length=2)
    dpi: float | None = None
    inches: list[float | None] = Field(default_factory=list, max_length=2)
    axes: list[AxesFact] = Field(default_factory=list, max_length=60)
    texts: list[TextFact] = Field(default_factory=list, max_length=200)

    def all_texts(self) -> list[tuple[AxesFact | None, TextFact]]:
        found: list[tuple[AxesFact | None, TextFact]] = [(None, t) for t in self.texts]
        return found + [(ax, t) for ax in self.axes for t in ax.texts]


class FigureFacts(BaseModel):
    fit: RenderFacts | None = None
    resized: RenderFacts | None = None


def load_facts(path: str | Path | None) -> FigureFacts | None:
    if path is None:
        return None
    try:
        raw = Path(path).read_bytes()
        if len(raw) > MAX_BYTES:
            return None
        return FigureFacts.model_validate(json.loads(raw))
    except (OSError, ValueError, ValidationError, RecursionError):
        return None
