"""The verdict on a figure job: the candidate's renders (the figure saved again at the target's
size by the sandbox's figure runner, and its own ``output.png``) against the target image.

Order: a render (fitted, or the solution's own ``output.png``) that has the target's pixels
passes outright; otherwise each render is
judged by the tolerant comparison (``compare.compare_figures``) and the first that passes
counts, and a fitted render in the target's layout is also compared place by place
(``aligned``), which may only add failed checks. The exported facts (``figure.json``) only
name differences; no fact makes a figure pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from autorust.graph.state import FigureComparison
from autorust.imaging.figures.aligned import compare_aligned
from autorust.imaging.figures.compare import compare_figures
from autorust.imaging.figures.facts import FigureFacts, load_facts
from autorust.imaging.figures.identical import same_pixels
from autorust.imaging.figures.loading import Picture, load_picture

OWN = "output.png"
FITTED = {"_fit/output.png": "fit", "_fit/resized.png": "resized"}
FACTS = "figure.json"


def _passed(note: str) -> FigureComparison:
    return FigureComparison(score=1.0, ssim=1.0, colour_score=1.0, passed=True, notes=[note])


def _has_pixels_of(target: Picture, path: str | Path | None) -> bool:
    if path is None:
        return False
    try:
        return same_pixels(target, load_picture(path))
    except Exception:  # unreadable: the comparisons below say why
        return False


def _facts_for(facts: FigureFacts | None, which: str):
    return None if facts is None else getattr(facts, which, None)


def judge_figure(
    target_path: str | Path, renders: Mapping[str, str | Path], *, threshold: float = 0.9
) -> FigureComparison:
    """``renders``: artifact name -> file (``output.png``, ``_fit/output.png``,
    ``_fit/resized.png``, ``figure.json``); only ``output.png`` is required."""
    try:
        target = load_picture(target_path)
    except Exception:  # compare_figures says why in a failed check
        target = None
    # the picture the program saved is the image: saving it again may draw another one (a
    # draw callback or layout step that moves things), so the fitted renders are not asked
    if target is not None and _has_pixels_of(target, renders.get(OWN)):
        return _passed(f"{OWN}: the target's pixels")
    facts = load_facts(renders.get(FACTS))
    fitted = [(name, renders[name]) for name in FITTED if name in renders]
    aligned = {}
    if target is not None:
        for name, path in fitted:
            try:
                picture = load_picture(path)
            except Exception:
                continue
            result = compare_aligned(target, picture, _facts_for(facts, FITTED[name]))
            if result.identical:
                return _passed(f"{name}: the target's pixels")
            aligned[name] = result
    # places that differ in a fitted render in the target's layout are differences whatever
    # render the tolerant comparison accepts (the fewest, when both fitted renders qualify)
    laid_out = [result.failures for result in aligned.values() if result.same_layout]
    extra = min(laid_out, key=len) if laid_out else []
    best: FigureComparison | None = None
    for _name, path in [*fitted, (OWN, renders.get(OWN))]:
        if path is None:
            continue
        result = compare_figures(target_path, path, threshold=threshold)
        if extra:
            failed = [*result.failed_checks, *[f for f in extra if f not in result.failed_checks]]
            result = result.model_copy(
                update={"passed": False, "failed_checks": failed, "differences": list(failed)}
            )
        if result.passed:
            return result
        if best is None or result.score > best.score:
            best = result
    assert best is not None, "output.png is required"
    return best
