from __future__ import annotations

from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig
from autorust.prompts.loader import PromptNotFoundError, available_versions, load_prompt
from autorust.runtime.runner import run_image, thread_id_for
from autorust.storage.checkpoints import open_checkpointer


def test_versions_are_discovered_and_latest_is_default() -> None:
    assert available_versions("coding")[:2] == ["v1", "v2"]
    _, version = load_prompt("coding")
    assert version == available_versions("coding")[-1]
    _, explicit = load_prompt("coding", "1")
    assert explicit == "v1"


def test_unknown_version_is_a_clear_error() -> None:
    with pytest.raises(PromptNotFoundError, match=r"coding/v99 does not exist; available: v1"):
        load_prompt("coding", "v99")


def test_templates_render_their_variables() -> None:
    prompt, _ = load_prompt("checker", "v1")
    messages = prompt.format_messages(spec_json="{}", source="print(1)", evidence="exit 0")
    assert "print(1)" in str(messages[-1].content) and "exit 0" in str(messages[-1].content)


async def test_prompt_versions_recorded_in_state(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    config = scripted_config.model_copy(update={"prompt_versions": {"coding": "v1"}})
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(example_images / "sum_even.png", config, saver)
    assert result.state is not None
    assert result.state.prompt_versions == {"vision": "v4", "coding": "v1", "checker": "v4"}


def test_prompt_version_is_part_of_the_thread_id(
    scripted_config: AutorustConfig, example_images: Path
) -> None:
    image = example_images / "sum_even.png"
    v1 = scripted_config.model_copy(update={"prompt_versions": {"coding": "v1"}})
    v2 = scripted_config.model_copy(update={"prompt_versions": {"coding": "v2"}})
    assert thread_id_for(image, v1) != thread_id_for(image, v2)
    assert thread_id_for(image, v1) == thread_id_for(image, v1.model_copy())
