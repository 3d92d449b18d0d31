"""The evidence rule and the thread fingerprint (issue #12, cases 1-4 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.graph.state import CodeArtifact, Spec, TestCase
from autorust.nodes.support.evidence import evidence_problems


def spec(**fields) -> Spec:
    return Spec(**{"title": "t", "description": "d", **fields})


def test_function_specs_need_tests_that_call_the_function() -> None:
    assert evidence_problems(spec(function_name="find_zero")) == [
        "no tests: write at least one test calling find_zero() with the expected result, "
        "taken from the examples in the image"
    ]
    assert "function_name" in evidence_problems(spec(function_name=None))[0]
    other = TestCase(name="x", call="len([1])", expected="1")
    assert "it calls len()" in evidence_problems(spec(function_name="find_zero", tests=[other]))[0]
    bad = TestCase(name="x", call="find_zero([1])", expected="it depends")
    assert (
        "expected must be a literal value"
        in evidence_problems(spec(function_name="find_zero", tests=[bad]))[0]
    )
    # a test is data: a call wrapped in anything else is sent back to its author (issue 21)
    nested = TestCase(name="x", call="sorted(find_zero([1, -1]))", expected="[1.0]")
    assert "nothing else" in evidence_problems(spec(function_name="find_zero", tests=[nested]))[0]
    plain = TestCase(name="x", call="find_zero([1, -1], eps=1e-9)", expected="[1.0, -1.0]")
    assert evidence_problems(spec(function_name="find_zero", tests=[plain])) == []


def test_stdio_specs_need_input_output_pairs_and_figures_need_none() -> None:
    assert "stdio program needs" in evidence_problems(spec(interface="stdio"))[0]
    pair = TestCase(name="p", stdin="1\n", expected_stdout="2")
    assert evidence_problems(spec(interface="stdio", tests=[pair])) == []
    assert evidence_problems(spec(kind="figure", interface="figure")) == []
    assert "kind 'figure' and interface 'figure'" in evidence_problems(spec(kind="figure"))[0]


@pytest.mark.parametrize(
    "source", ["", "   \n", "def f(x):\n    return (x +", "https://github.com/some/repo", "x = 1\0"]
)
def test_empty_or_cut_off_code_is_an_invalid_reply(source: str) -> None:
    with pytest.raises(ValueError, match="source"):
        CodeArtifact(source=source)


def _replies(folder: Path, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.yaml").write_text(text)
    return str(folder)


def test_the_fingerprint_covers_every_setting_that_changes_a_result(tmp_path: Path) -> None:
    base = AutorustConfig(provider="scripted", scripted_replies=_replies(tmp_path / "a", "v: 1"))
    changed = {
        "other replies folder": {"scripted_replies": _replies(tmp_path / "b", "v: 2")},
        "executor kind": {"executor": {"kind": "subprocess", "allow_unsandboxed": True}},
        "executor limits": {"executor": {"limits": {"timeout_s": 30}}},
        "OCR mode": {"ocr": "off"},
        "figure threshold": {"figure_threshold": 0.8},
        "max iterations": {"max_iterations": 5},
        "regenerations": {"max_regenerations": 0},
        "coding model": {"coding": {"model": "other", "temperature": 0.7}},
        "prompt version": {"prompt_versions": {"coding": "v1"}},
    }
    seen = {base.fingerprint()}
    for name, update in changed.items():
        fingerprint = AutorustConfig(**{**base.model_dump(), **update}).fingerprint()
        assert fingerprint not in seen, f"{name} does not change the thread id"
        seen.add(fingerprint)
    # the same folder with edited content is another set of replies
    before = base.fingerprint()
    (Path(base.scripted_replies) / "task.yaml").write_text("v: edited")
    assert AutorustConfig(**base.model_dump()).fingerprint() != before
    # settings that do not change a result leave it alone
    same = AutorustConfig(**{**base.model_dump(), "output_dir": "elsewhere"})
    assert same.fingerprint() == base.fingerprint()


def test_prompt_template_content_is_part_of_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import autorust.prompts.loader as loader

    config = AutorustConfig()
    before = config.fingerprint()
    copy = tmp_path / "prompts"
    for family in ("vision", "coding", "checker", "vision_confirm"):
        (copy / family).mkdir(parents=True)
        for file in (loader.PROMPTS_DIR / family).glob("v*.yaml"):
            (copy / family / file.name).write_bytes(file.read_bytes())
    newest = copy / "coding" / f"{loader.available_versions('coding')[-1]}.yaml"
    newest.write_text(newest.read_text() + "\n# an edit")
    monkeypatch.setattr(loader, "PROMPTS_DIR", copy)
    loader.template_hash.cache_clear()
    try:
        assert config.fingerprint() != before
    finally:
        loader.template_hash.cache_clear()
