"""Render-and-compare for figure tasks: does a rendering of generated code show the target chart?

See ``compare.compare_figures`` and docs/figures_and_ocr.md.
"""

from autorust.imaging.figures.compare import compare_figures
from autorust.imaging.figures.identical import renders_identical

__all__ = ["compare_figures", "renders_identical"]
