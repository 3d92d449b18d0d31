"""OCR-grounded vision: accuracy on project-made task images, and where the text goes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from autorust.graph.context import AutorustConfig
from autorust.imaging.ocr import OcrUnavailableError, ocr_available, read_text
from autorust.nodes.support.spec_from_text import spec_from_text
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from examples.render_task_image import EXAMPLES, render_task
from tests.integration.test_model_faults import sum_even_replies
from tests.support.fake_openai import FakeOpenAI, replies_by_schema, schema_name

ROOT = Path(__file__).resolve().parents[2]
EXTRA_TASKS = {
    "fizz": (
        "Task 7: FizzBuzz sum",
        ["Return the sum of all n below limit that are", "multiples of 3 or 5.",
         "    fizz_sum(10) -> 23", "    fizz_sum(1) -> 0"],
    ),
    "digits": (
        "Problem 12: Digit product",
        ["Multiply the non-zero digits of x.", "    digit_product(2305) -> 30",
         "    digit_product(7) -> 7"],
    ),
}  # fmt: skip


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def normalise(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def test_character_error_rate_on_task_images(tmp_path: Path) -> None:
    errors = total = 0
    for stem, (title, lines) in {**EXAMPLES, **EXTRA_TASKS}.items():
        image = render_task(title, lines, tmp_path / f"{stem}.png")
        truth = normalise("\n".join([title, *(line.strip() for line in lines)]))
        result = read_text(Image.open(image))
        distance = edit_distance(normalise(result.text), truth)
        print(f"{stem}: CER {distance / len(truth):.2%} in {result.duration_s:.2f}s")
        errors, total = errors + distance, total + len(truth)
    cer = errors / total
    print(f"overall character error rate: {cer:.2%} over {total} characters")
    assert cer <= 0.02


async def test_ocr_text_reaches_the_vision_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-ocr-000000")
    with FakeOpenAI(sum_even_replies) as server:
        config = AutorustConfig(
            default={"model": "gpt-4o-mini", "base_url": server.base_url}, home=str(tmp_path)
        )
        async with open_checkpointer(config.checkpoint_path) as saver:
            result = await run_image(ROOT / "examples/images/sum_even.png", config, saver)
        vision = next(r for r in server.requests if schema_name(r) == "Spec")
    prompt = next(p["text"] for p in vision["messages"][-1]["content"] if p["type"] == "text")
    assert "Text read from the image by OCR" in prompt
    assert "sum_even([-2, 5, 10]) -> 8" in prompt
    assert (
        result.state
        and result.state.spec
        and "sum_even([7, 9])" in (result.state.spec.ocr_text or "")
    )


async def test_without_a_vision_reply_ocr_builds_the_spec(tmp_path: Path) -> None:
    replies = tmp_path / "replies"
    replies.mkdir()
    script = yaml.safe_load((ROOT / "examples/replies/palindrome.yaml").read_text())
    (replies / "palindrome.yaml").write_text(
        yaml.safe_dump({k: script[k] for k in ("coding", "checker")})
    )
    shutil.copy(ROOT / "examples/images/palindrome.png", tmp_path / "palindrome.png")
    config = AutorustConfig(provider="scripted", scripted_replies=str(replies), home=str(tmp_path))
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(tmp_path / "palindrome.png", config, saver)
    spec = result.state.spec  # type: ignore[union-attr]
    assert spec is not None and spec.title == "Palindrome check"
    assert spec.function_name == "is_palindrome" and len(spec.tests) == 3
    assert result.state.prompt_versions["vision"] == "ocr"  # type: ignore[union-attr]
    assert result.status == "passed"  # the OCR-derived tests judged the scripted coder


@pytest.mark.parametrize(
    ("coding", "status"),
    [
        # case 1 of issue #12: a one-line URL "program" became `passed`, score 1.00
        ([{"source": "https://github.com/some/project"}], "error"),
        ([{"source": "print('here is your chart')"}], "failed"),
    ],
)
async def test_an_ocr_only_chart_is_a_figure_task_judged_by_rendering(
    tmp_path: Path, coding: list, status: str
) -> None:
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "sales_chart.yaml").write_text(yaml.safe_dump({
        "coding": coding, "checker": [{"passed": True, "score": 1.0, "summary": "great"}]
    }))  # fmt: skip
    shutil.copy(ROOT / "examples/images/sales_chart.png", tmp_path / "sales_chart.png")
    config = AutorustConfig(
        provider="scripted", scripted_replies=str(replies), home=str(tmp_path), max_iterations=1
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(tmp_path / "sales_chart.png", config, saver)
    state = result.state
    assert state is not None and state.spec is not None
    assert (state.spec.kind, state.spec.interface) == ("figure", "figure")
    assert state.spec.tests == [] and "Monthly sales" in state.spec.description
    assert result.status == status != "passed"
    if status == "failed":
        assert "no output.png was produced" in state.verdict.feedback


async def test_forced_ocr_without_tesseract_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    assert not ocr_available()
    with pytest.raises(OcrUnavailableError, match="apt-get install tesseract-ocr"):
        read_text(ROOT / "examples/images/sum_even.png")
    config = AutorustConfig(
        provider="scripted",
        scripted_replies=str(ROOT / "examples/replies"),
        home=str(tmp_path),
        ocr="on",
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        with pytest.raises(OcrUnavailableError, match=r"bash scripts/setup\.sh"):
            await run_image(ROOT / "examples/images/sum_even.png", config, saver)
        # "auto" quietly goes without OCR; the scripted vision reply still gives the spec
        auto = config.model_copy(update={"ocr": "auto"})
        result = await run_image(ROOT / "examples/images/sum_even.png", auto, saver)
    assert result.status == "passed" and result.state is not None
    assert result.state.spec is not None and result.state.spec.ocr_text is None
    monkeypatch.undo()
    assert ocr_available()  # the probe is keyed by the binary: the real one is found again


def test_read_text_takes_a_path_or_an_image_and_caches_by_content(tmp_path: Path) -> None:
    title, lines = EXTRA_TASKS["fizz"]
    path = render_task(title, lines, tmp_path / "fizz.png")
    first = read_text(path)
    copy = render_task(title, lines, tmp_path / "same_content.png")
    again = read_text(Image.open(copy))
    print(f"OCR latency {first.duration_s:.2f}s, mean confidence {first.confidence}")
    assert again is first  # same pixels, another file: served from the cache
    assert first.engine.startswith("tesseract") and first.confidence > 80
    assert "fizz_sum(10) -> 23" in first.text.splitlines()
    assert read_text(path, sparse=True) is not first  # another mode is another reading


def test_spec_skeleton_from_function_examples() -> None:
    spec = spec_from_text(
        "Problem 12: Digit product\nMultiply the non-zero digits of x.\nExamples:\n"
        "digit_product(2305) -> 30\ndigit_product(7) => 7\nnot_python(( -> 1"
    )
    assert spec.title == "Digit product" and spec.interface == "function"
    assert spec.function_name == "digit_product"
    assert [(t.call, t.expected) for t in spec.tests] == [
        ("digit_product(2305)", "30"),
        ("digit_product(7)", "7"),
    ]
    assert "Multiply the non-zero digits" in spec.description
    assert "not_python((" in spec.description  # not valid Python: kept as text, not a test


def test_spec_skeleton_from_input_output_blocks() -> None:
    spec = spec_from_text(
        "Task: Reverse the words\nPrint the words of a line in reverse order.\n"
        "Example 1:\nInput:\nthe quick fox\nOutput:\nfox quick the\n"
        "Example 2:\nInput: a b\nOutput: b a"
    )
    assert spec.title == "Reverse the words" and spec.interface == "stdio"
    assert [(t.stdin, t.expected_stdout) for t in spec.tests] == [
        ("the quick fox\n", "fox quick the"),
        ("a b\n", "b a"),
    ]
    with pytest.raises(ValueError, match="no text"):
        spec_from_text(" \n ")


async def test_openai_without_a_vision_model_builds_the_spec_from_ocr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Coder and checker have a model, vision has none: OCR stands in for the vision model."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-ocr-000000")
    script = yaml.safe_load((ROOT / "examples/replies/sum_even.yaml").read_text())
    with FakeOpenAI(replies_by_schema(script)) as server:
        model = {"model": "gpt-4o-mini", "base_url": server.base_url}
        config = AutorustConfig(coding=model, checker=model, home=str(tmp_path))
        async with open_checkpointer(config.checkpoint_path) as saver:
            result = await run_image(ROOT / "examples/images/sum_even.png", config, saver)
        asked = [schema_name(r) for r in server.requests]
    assert "Spec" not in asked and "CodeArtifact" in asked
    state = result.state
    assert state is not None and state.spec is not None
    assert state.prompt_versions["vision"] == "ocr"
    assert state.spec.function_name == "sum_even" and len(state.spec.tests) == 3
    assert result.status == "passed"
