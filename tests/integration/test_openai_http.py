"""The real ChatOpenAI client against a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from autorust.graph.context import AutorustConfig
from autorust.runtime.runner import run_image
from autorust.storage.checkpoints import open_checkpointer
from tests.support.fake_openai import FakeOpenAI, replies_by_schema, schema_name

REPLIES = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "examples" / "replies" / "sum_even.yaml").read_text()
)


@pytest.fixture
def server():
    with FakeOpenAI(replies_by_schema(REPLIES)) as fake:
        yield fake


async def test_graph_over_http_with_per_agent_models(
    server: FakeOpenAI, tmp_path: Path, example_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    config = AutorustConfig(
        default={"base_url": server.base_url, "model": "default-model"},
        vision={"model": "vision-model", "temperature": 0.0},
        coding={"model": "coding-model", "temperature": 0.2},
        home=str(tmp_path / ".autorust"),
    )
    async with open_checkpointer(config.checkpoint_path) as saver:
        result = await run_image(example_images / "sum_even.png", config, saver)
    assert result.status == "passed", result.error

    by_schema = {schema_name(r): r for r in server.requests}
    assert set(by_schema) == {"Spec", "CodeArtifact", "Review"}
    assert by_schema["Spec"]["model"] == "vision-model"
    assert by_schema["CodeArtifact"]["model"] == "coding-model"
    assert by_schema["Review"]["model"] == "default-model"
    assert by_schema["CodeArtifact"]["temperature"] == 0.2
    assert by_schema["Spec"]["response_format"]["type"] == "json_schema"

    content = by_schema["Spec"]["messages"][-1]["content"]
    image_part = next(part for part in content if part["type"] == "image_url")
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG")
    assert all(h.get("authorization") == "Bearer sk-test-not-a-real-key" for h in server.headers)
