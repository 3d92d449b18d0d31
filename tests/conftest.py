from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autorust.graph.context import AutorustConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _no_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a developer's model configuration or keys."""
    import os

    for name in list(os.environ):
        if name.startswith(("AUTORUST_", "OPENAI_", "AZURE_OPENAI", "LANGSMITH_", "LANGCHAIN_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def scripted_config(tmp_path: Path) -> AutorustConfig:
    """Scripted model over the example replies; real sandbox; checkpoints under tmp_path."""
    return AutorustConfig(
        provider="scripted",
        scripted_replies=str(EXAMPLES / "replies"),
        home=str(tmp_path / ".autorust"),
        output_dir=str(tmp_path / "out"),
    )


@pytest.fixture
def example_images(tmp_path: Path) -> Path:
    """A private copy of the example images (tests may add or break files in it)."""
    target = tmp_path / "images"
    shutil.copytree(EXAMPLES / "images", target)
    return target


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that runs the pipeline with ``scripted_config`` uses the real sandbox."""
    for item in items:
        if "scripted_config" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.bwrap)


@pytest.fixture(scope="session")
def corpus_render(tmp_path_factory: pytest.TempPathFactory):
    """Renders chart-corpus variants once per session (tests/support/chart_corpus.py)."""
    from tests.support.chart_corpus import render

    folder = tmp_path_factory.mktemp("chart-corpus")
    return lambda variant: render(variant, folder)
