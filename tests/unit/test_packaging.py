"""What pyproject promises: Python 3.11-3.13, every prompt folder installed (issue 24 item 6)."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_python_311_to_313_are_supported() -> None:
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert all(version in spec for version in ("3.11.7", "3.12.3", "3.13.5"))
    assert "3.10.12" not in spec


def test_every_prompt_folder_is_a_listed_package() -> None:
    """An unlisted data folder makes setuptools warn "Package would be ignored"."""
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {
        p.name for p in (ROOT / "prompts").iterdir() if p.is_dir() and list(p.glob("*.yaml"))
    }
    assert folders and {f"autorust.prompts.{name}" for name in folders} <= packages


def test_the_demo_setup_installs_no_extras() -> None:
    script = (ROOT / "scripts" / "setup.sh").read_text()
    demo = script[script.index('if [ "$DEMO" = 1 ]; then\n  install') :].split("fi\n", 1)[0]
    assert "install .venv/bin/python -e .\n" in demo and "[dev]" not in demo
    assert "llama" not in demo
