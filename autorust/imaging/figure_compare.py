"""Kept for imports of the old module path: the comparison lives in autorust.imaging.figures."""

from autorust.imaging.figures import compare_figures, renders_identical

__all__ = ["compare_figures", "renders_identical"]
