"""The schema forms the model layer sends (issue 23 cases 2, 7, 8, 10): a compact statement of
the fields for the messages, OpenAI strict schemas generated from the agents' pydantic models,
messages whose roles alternate, and JSON with raw newlines inside strings accepted."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from autorust.graph.state import CodeArtifact, Confirmation, Review, Spec
from autorust.llm.conversation import arrange, reask
from autorust.llm.schemas import compact, json_schema, strict_schema, strict_violations
from autorust.llm.strategies import extract_json

AGENT_SCHEMAS: list[type[BaseModel]] = [Spec, CodeArtifact, Review, Confirmation]


@pytest.mark.parametrize("model", AGENT_SCHEMAS, ids=lambda m: m.__name__)
def test_strict_schemas_follow_openais_rules_for_every_agent_schema(
    model: type[BaseModel],
) -> None:
    """Observed on 38a965c: the four schemas break the strict rules 41 times
    (platform.openai.com/docs/guides/structured-outputs#supported-schemas)."""
    assert strict_violations(strict_schema(model)) == []
    plain = json_schema(model)
    strict = strict_schema(model)
    # nothing dropped but defaults and the fields autorust sets itself (never asked of a model)
    asked = {n for n, sub in plain["properties"].items() if sub.get("reply") is not False}
    assert set(strict["properties"]) == asked
    assert set(strict["required"]) == asked


def test_the_plain_schemas_do_break_the_strict_rules() -> None:
    violations = sum(len(strict_violations(json_schema(m))) for m in AGENT_SCHEMAS)
    assert violations > 0  # why strict mode needs the converter


def test_a_reply_to_the_strict_schema_is_valid_for_the_model() -> None:
    """Every field required in strict mode: a reply giving them all still validates."""
    reply = {"source": "def f():\n    return 1\n", "notes": ""}
    extra = set(strict_schema(CodeArtifact)["required"]) - set(reply)
    full = reply | {name: CodeArtifact.model_fields[name].get_default() for name in extra}
    assert CodeArtifact.model_validate(full).source == reply["source"]


def test_the_compact_statement_names_fields_types_and_required() -> None:
    text = compact(CodeArtifact)
    assert '"source": string' in text
    assert len(text) < len(str(json_schema(CodeArtifact))) / 2
    spec = compact(Spec)
    assert "[{" in spec  # nested models are spelled out, not referenced


def test_roles_alternate_whatever_the_input() -> None:
    """Strict templates (Gemma 3, Mistral) reject anything but: system first, then
    user/assistant alternating from a user turn (issue 23 case 7)."""
    messages = [
        SystemMessage("be brief"),
        HumanMessage("task"),
        SystemMessage("more rules"),
        HumanMessage([{"type": "text", "text": "and"}, {"type": "image_url", "image_url": {}}]),
    ]
    arranged = arrange(messages, "SCHEMA")
    assert [type(m) for m in arranged] == [SystemMessage, HumanMessage]
    assert arranged[0].content == "be brief\n\nmore rules\n\nSCHEMA"
    assert len(arranged[1].content) == 3  # both user turns, image kept
    again = arrange([*messages, *reask("{bad", "not JSON", "SCHEMA")], "SCHEMA")
    roles = [type(m) for m in again]
    assert roles == [SystemMessage, HumanMessage, AIMessage, HumanMessage]
    assert "SCHEMA" in str(again[-1].content)  # the re-ask restates the schema


def test_raw_newlines_inside_strings_are_accepted() -> None:
    """llama.cpp's JSON grammar allows them; json.loads' strict mode refused (case 10)."""
    text = '{"source": "def f():\n    return 1\n", "notes": "tab\there"}'
    assert extract_json(text)["source"] == "def f():\n    return 1\n"


def test_the_lean_schema_is_structure_only_and_much_smaller() -> None:
    """Issue 28: pydantic's descriptions and titles were most of every schema sent, and
    fields autorust sets itself (ocr_text, a test's source) were asked of the model."""
    import json

    from autorust.llm.schemas import lean_schema, schema_statement

    for model in AGENT_SCHEMAS:
        text = json.dumps(lean_schema(model))
        assert '"description": "' not in text and '"title": "' not in text  # as keywords
        assert len(text) < len(json.dumps(json_schema(model))) * 0.6
    assert "ocr_text" not in json.dumps(lean_schema(Spec)) and "ocr_text" not in compact(Spec)
    assert "source" not in compact(Spec)
    assert "Spec = {" not in schema_statement(Spec, fields=False)
