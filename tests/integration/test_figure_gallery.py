"""A sample of the matplotlib gallery corpus (issue #25) as a test set: for each script, the
original and every faithful re-render (0.8x, 1.25x, 2x dpi, a 1.25x larger figure) pass, and
every edit that changes the picture (main series colour, data x1.3 at every other index, a
title or axis-label word, the last series left out) fails. The bench runs all 110 scripts
(``bench/bench_figures.py --gallery``). The scripts are stored in the repository
(tests/fixtures/gallery/scripts), so nothing here skips.
"""

from __future__ import annotations

import pytest

from autorust.imaging.figures import renders_identical
from tests.support.gallery_corpus import entries, missing, variants
from tests.support.gallery_render import applied, render_all, target

SAMPLE = ["barchart", "bar_stacked", "step_demo", "anscombe", "broken_axis"]  # tuning half only


def test_every_script_of_the_manifest_is_stored_unchanged() -> None:
    import subprocess

    from tests.support.gallery_corpus import script_path

    assert missing() == []
    chosen = entries()
    assert len(chosen) == 110
    assert sum(e.split == "tuning" for e in chosen) == 55
    paths = [str(script_path(e.path)) for e in chosen]
    hashed = subprocess.run(
        ["git", "hash-object", *paths], check=True, capture_output=True, text=True
    ).stdout.split()
    assert hashed == [e.blob for e in chosen]


def test_the_sample_is_from_the_tuning_half() -> None:
    tuning = {e.name for e in entries("tuning")}
    assert set(SAMPLE) <= tuning


@pytest.mark.parametrize("name", SAMPLE)
def test_gallery_verdicts(name: str) -> None:
    from bench.gallery_bench import judge_case

    (entry,) = [e for e in entries("tuning") if e.name == name]
    cases = variants(entry)
    folders = render_all(cases)
    png = target(cases[0])
    assert png is not None
    wrong = []
    for variant in cases:
        folder = folders[variant.key]
        assert folder is not None and (folder / "output.png").is_file(), variant.key
        edit = variant.kind not in ("original", "faithful")
        if edit and (not applied(folder) or renders_identical(png, folder / "output.png")):
            continue  # the edit does not apply to this chart, or changes no pixel
        passed, failed, _, _ = judge_case(png, folder)
        if passed == edit:
            wrong.append(f"{variant.key}: passed={passed} {failed[:2]}")
    assert not wrong, wrong


def test_extra_variants_exist_for_the_tuning_half_only() -> None:
    from tests.support.gallery_corpus import extra_variants, generated_variants

    tuning, validation = entries("tuning")[0], entries("validation")[0]
    names = [v.name for v in extra_variants(tuning)]
    assert len(names) == len(set(names)) == 7 + len(generated_variants(tuning))
    assert not set(names) & {v.name for v in variants(tuning)}
    for variant in extra_variants(tuning):
        compile(variant.script(), variant.key, "exec")
    with pytest.raises(ValueError, match="tuning half only"):
        extra_variants(validation)


def test_a_script_drawing_unseeded_random_data_renders_the_same_in_every_worker(
    tmp_path: pytest.TempPathFactory,
) -> None:
    """A faithful re-render draws the same data: every render starts from the same seeds (the
    two render workers' numpy states differ otherwise, so target and candidate did too)."""
    from tests.support import gallery_render

    (entry,) = [e for e in entries("validation") if e.name == "histogram_bihistogram"]
    original = next(v for v in variants(entry) if v.name == "original")
    script = original.script()
    assert "seed" not in script
    folders = [tmp_path / f"render{i}" for i in range(4)]  # type: ignore[operator]
    for folder in folders:  # the pool's two workers take turns
        gallery_render._run(folder, script, (0, 0))
    pictures = [(folder / "output.png").read_bytes() for folder in folders]
    assert all(picture == pictures[0] for picture in pictures[1:])


def test_generated_variants_are_seeded_and_cover_each_mechanism() -> None:
    """The tuning half's generated variants (issue #25): drawn by a seeded generator (the same
    scripts every time), every script has a layout re-render, a one-panel data edit and a
    one-series removal, and scripts whose layout is decided at draw time get more draws."""
    from bench.gallery_bench import row_of
    from tests.support.gallery_corpus import GENERATED_DRAWS, generated_variants

    tuning = entries("tuning")
    first = {v.key: v.script() for e in tuning for v in generated_variants(e)}
    assert first == {v.key: v.script() for e in tuning for v in generated_variants(e)}
    rows = {row_of(v) for e in tuning for v in generated_variants(e)}
    assert rows == {"layout_dpi", "layout_size", "panel_data", "drop_one_series"}
    (constrained,) = [e for e in tuning if e.name == "barchart"]
    layouts = [v for v in generated_variants(constrained) if v.kind == "faithful"]
    assert len(layouts) == 2 * GENERATED_DRAWS
    for variant in generated_variants(constrained):
        compile(variant.script(), variant.key, "exec")
