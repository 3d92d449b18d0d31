"""Structured outputs parsed from scripted replies, and regeneration on invalid replies."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from langchain_core.messages import HumanMessage

from autorust.graph.state import CodeArtifact, Review, Spec
from autorust.llm.scripted import ScriptedChatModel, ScriptMissingError
from autorust.llm.structured import InvalidModelOutputError, invoke_structured

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "replies"


async def _ask(model: ScriptedChatModel, schema, image: str, iteration: int = 0, regen: int = 2):
    return await invoke_structured(
        model,
        [HumanMessage("task")],
        schema,
        agent=model.agent,
        iteration=iteration,
        metadata={"autorust_image": image, "autorust_iteration": iteration},
        max_regenerations=regen,
    )


async def test_each_agent_reply_parses_into_its_model() -> None:
    spec, call = await _ask(
        ScriptedChatModel(replies_dir=EXAMPLES, agent="vision"), Spec, "palindrome"
    )
    assert spec.function_name == "is_palindrome" and len(spec.tests) == 5
    assert call.input_tokens > 0 and call.output_tokens > 0 and call.regenerations == []
    code, _ = await _ask(
        ScriptedChatModel(replies_dir=EXAMPLES, agent="coding"), CodeArtifact, "palindrome", 1
    )
    assert "isalnum" in code.source
    review, _ = await _ask(
        ScriptedChatModel(replies_dir=EXAMPLES, agent="checker"), Review, "palindrome"
    )
    assert "Normalise" in review.feedback and review.counterexamples == []


def _write_script(folder: Path, coding_entry: object) -> ScriptedChatModel:
    (folder / "task.yaml").write_text(yaml.safe_dump({"coding": [coding_entry]}))
    return ScriptedChatModel(replies_dir=folder, agent="coding")


async def test_invalid_reply_is_regenerated_with_the_error(tmp_path: Path) -> None:
    model = _write_script(
        tmp_path, {"tries": [{"notes": "source is missing"}, {"source": "print(1)"}]}
    )
    code, call = await _ask(model, CodeArtifact, "task")
    assert code.source == "print(1)"
    assert len(call.regenerations) == 1 and "source" in call.regenerations[0]


async def test_persistently_invalid_reply_fails_clearly(tmp_path: Path) -> None:
    model = _write_script(tmp_path, {"tries": [{"notes": "no source"}]})
    with pytest.raises(
        InvalidModelOutputError,
        match=r"coding agent \(model .+ at .+\): no valid CodeArtifact after 3",
    ):
        await _ask(model, CodeArtifact, "task", regen=2)


async def test_missing_script_names_the_file(tmp_path: Path) -> None:
    model = ScriptedChatModel(replies_dir=tmp_path, agent="vision")
    with pytest.raises(ScriptMissingError, match=r"nope\.yaml"):
        await _ask(model, Spec, "nope")
