"""OCR-grounded vision: accuracy on project-made task images, and where the text goes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from examples.render_task_image import EXAMPLES, render_task
from graph.checkpoint import open_checkpointer
from graph.config import AutorustConfig
from graph.runner import run_image
from nodes.ocr import OcrUnavailableError, read_text
from tests.fake_openai import FakeOpenAI, schema_name
from tests.test_model_faults import sum_even_replies

ROOT = Path(__file__).resolve().parents[1]
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


async def test_forced_ocr_without_tesseract_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    from nodes import ocr

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr._engine.cache_clear()
    try:
        config = AutorustConfig(
            provider="scripted",
            scripted_replies=str(ROOT / "examples/replies"),
            home=str(tmp_path),
            ocr="on",
        )
        async with open_checkpointer(config.checkpoint_path) as saver:
            with pytest.raises(OcrUnavailableError, match="apt-get install tesseract-ocr"):
                await run_image(ROOT / "examples/images/sum_even.png", config, saver)
            auto = config.model_copy(update={"ocr": "auto"})
            assert (
                await run_image(ROOT / "examples/images/sum_even.png", auto, saver)
            ).status == "passed"
    finally:
        ocr._engine.cache_clear()
