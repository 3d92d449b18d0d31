"""Load a versioned prompt template.

Each file is YAML with ``system`` and ``human`` f-string templates (literal braces doubled), a
free-text ``notes`` field describing what changed in that version, and optionally ``layout``:
how the node renders what the template shows, so an old version keeps sending what it sent
(``spec: compact`` for the specification as one-line JSON without nulls, else indented;
``history: attempts`` for the coding history kept at attempt boundaries, else cut at 12,000
characters from the front).
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

import yaml
from langchain_core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parent
_VERSION_FILE = re.compile(r"^v(\d+)\.yaml$")


class PromptNotFoundError(LookupError):
    pass


def available_versions(agent: str) -> list[str]:
    """Versions present for ``agent``, oldest first (``["v1", "v2", ...]``)."""
    folder = PROMPTS_DIR / agent
    numbers = sorted(
        int(m.group(1)) for p in folder.glob("v*.yaml") if (m := _VERSION_FILE.match(p.name))
    )
    return [f"v{n}" for n in numbers]


def resolve_version(agent: str, version: str | None = None) -> str:
    """``None`` or ``"latest"`` means the newest version; ``"2"`` and ``"v2"`` are the same."""
    versions = available_versions(agent)
    if not versions:
        raise PromptNotFoundError(f"no prompt templates for agent {agent!r} in {PROMPTS_DIR}")
    if version in (None, "", "latest"):
        return versions[-1]
    normalised = version if version.startswith("v") else f"v{version}"
    if normalised not in versions:
        raise PromptNotFoundError(
            f"prompt {agent}/{normalised} does not exist; available: {', '.join(versions)}"
        )
    return normalised


@cache
def _data(agent: str, version: str) -> dict:
    return yaml.safe_load((PROMPTS_DIR / agent / f"{version}.yaml").read_text(encoding="utf-8"))


@cache
def _load(agent: str, version: str) -> ChatPromptTemplate:
    data = _data(agent, version)
    return ChatPromptTemplate.from_messages([("system", data["system"]), ("human", data["human"])])


def prompt_layout(agent: str, version: str) -> dict[str, str]:
    """The version's ``layout`` settings (empty for versions before layouts existed)."""
    return dict(_data(agent, resolve_version(agent, version)).get("layout") or {})


def load_prompt(agent: str, version: str | None = None) -> tuple[ChatPromptTemplate, str]:
    """Return the template and the concrete version string used (to record in state)."""
    resolved = resolve_version(agent, version)
    return _load(agent, resolved), resolved


@cache
def template_hash(agent: str, version: str) -> str:
    """Content hash of one template file: editing a prompt changes the runs it makes."""
    return hashlib.sha256((PROMPTS_DIR / agent / f"{version}.yaml").read_bytes()).hexdigest()[:16]
