"""A pydantic model's JSON schema in the forms endpoints need.

- ``json_schema``: the schema as pydantic writes it (computed once per model class).
- ``lean_schema``: what goes on the wire: the structure only (no titles, descriptions,
  defaults or examples; ``anyOf`` of plain types as a type list). The agents' prompts say what
  the fields mean, once; pydantic's descriptions were 60 % of every schema sent.
- ``compact``: field names, types and which are required, in one short line of text, stated in
  the messages whatever the strategy: servers that ignore ``response_format`` (Anthropic's
  OpenAI-compatible endpoint answers 200 with prose) still show the model the fields.
- ``strict_schema``: the schema made to satisfy OpenAI's strict structured outputs (every
  object ``additionalProperties: false``, every property in ``required``, no ``default``, no
  ``$ref`` with sibling keywords). Generated from the pydantic models, so it cannot drift.
  (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas)
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]


@functools.cache
def _json_schema(model: type[BaseModel]) -> str:
    # model_json_schema takes ~3 ms: computed once per model class
    return json.dumps(model.model_json_schema(), separators=(",", ":"))


def json_schema(model: type[BaseModel]) -> Schema:
    """The JSON schema of ``model`` (a fresh copy: callers may adjust it)."""
    return json.loads(_json_schema(model))  # 30x cheaper than deepcopy of the dict


_UNREAD = frozenset({"title", "description", "default", "examples", "reply"})
_MAPS = frozenset({"properties", "$defs", "definitions"})  # name -> schema


def _lean(node: Any) -> Any:
    if isinstance(node, list):
        return [_lean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    # fields marked json_schema_extra={"reply": False} are set by autorust, not by a model
    unasked = {
        name
        for name, sub in (node.get("properties") or {}).items()
        if isinstance(sub, dict) and sub.get("reply") is False
    }
    for key, value in node.items():
        if key in _UNREAD:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _lean(sub) for name, sub in value.items() if name not in unasked}
        elif key in _MAPS and isinstance(value, dict):
            out[key] = {name: _lean(sub) for name, sub in value.items()}
        elif key == "required" and isinstance(value, list):
            out[key] = [name for name in value if name not in unasked]
        else:
            out[key] = _lean(value)
    options = out.get("anyOf")
    if (
        isinstance(options, list)
        and all(isinstance(o, dict) and set(o) == {"type"} for o in options)
        and all(isinstance(o["type"], str) for o in options)
    ):  # {"anyOf": [{"type": "string"}, {"type": "null"}]} -> {"type": ["string", "null"]}
        del out["anyOf"]
        out["type"] = [o["type"] for o in options]
    return out


def _without_unused_defs(schema: Schema) -> Schema:
    """Drop ``$defs`` nothing refers to any more (e.g. only a field not asked used them)."""
    defs = schema.get("$defs")
    while defs:
        rest = json.dumps({k: v for k, v in schema.items() if k != "$defs"})
        used = {
            name
            for name in defs
            if f'"#/$defs/{name}"' in rest
            or any(f'"#/$defs/{name}"' in json.dumps(d) for o, d in defs.items() if o != name)
        }
        if used == set(defs):
            break
        defs = {name: defs[name] for name in used}
        schema["$defs"] = defs
    if not schema.get("$defs"):
        schema.pop("$defs", None)
    return schema


@functools.cache
def _lean_text(model: type[BaseModel]) -> str:
    return json.dumps(_without_unused_defs(_lean(json_schema(model))), separators=(",", ":"))


def lean_schema(model: type[BaseModel]) -> Schema:
    """``model``'s schema as sent: structure only (a fresh copy)."""
    return json.loads(_lean_text(model))


def _ref_target(ref: str, defs: Schema) -> Schema:
    return defs.get(ref.rsplit("/", 1)[-1], {})


def _compact(node: Any, defs: Schema, seen: frozenset[str], optional: bool = False) -> str:
    """``optional``: a field that may be left out, where ``| null`` says nothing more."""
    if not isinstance(node, dict):
        return "any"
    if ref := node.get("$ref"):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:  # a recursive model: name it instead of unrolling
            return name
        return _compact(_ref_target(ref, defs), defs, seen | {name})
    if "const" in node:
        return json.dumps(node["const"])
    if "enum" in node:
        return "|".join(json.dumps(value) for value in node["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            joiner = " & " if key == "allOf" else " | "
            options = [o for o in node[key] if not (optional and o == {"type": "null"})]
            return joiner.join(_compact(option, defs, seen) for option in options)
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if not (optional and k == "null")]
        return " | ".join(_compact({**node, "type": one}, defs, seen) for one in kinds)
    if kind == "array":
        return f"[{_compact(node.get('items', {}), defs, seen)}, ...]"
    if kind == "object" or "properties" in node:
        properties = node.get("properties") or {}
        if not properties:
            extra = node.get("additionalProperties")
            value = _compact(extra, defs, seen) if isinstance(extra, dict) else "any"
            return f"{{string: {value}}}"
        required = set(node.get("required") or ())
        fields = ", ".join(
            f'"{name}"{"" if name in required else "?"}: '
            + _compact(sub, defs, seen, optional=name not in required)
            for name, sub in properties.items()
        )
        return f"{{{fields}}}"
    return str(kind or "any")


@functools.cache
def compact(model: type[BaseModel]) -> str:
    """``{"source": string, "notes"?: string}``: names, types, ``?`` for optional fields."""
    schema = lean_schema(model)
    return _compact(schema, schema.get("$defs") or {}, frozenset({model.__name__}))


def schema_statement(model: type[BaseModel], *, fields: bool = True) -> str:
    """The schema in words, for the messages of every strategy. ``fields=False`` when the model
    reads the schema sent with the request already (OpenAI and Azure render response_format's
    json_schema and tools' parameters into the prompt): it is not stated twice."""
    name = model.__name__
    if not fields:
        return f"Reply only with JSON matching the JSON schema {name}."
    return (
        f"Reply with one JSON object matching the JSON schema {name} below, and nothing else "
        f"(no prose, no code fences); ? marks fields that may be left out.\n{name} = "
        f"{compact(model)}"
    )


# ---- OpenAI strict mode ----------------------------------------------------------------------

_DROPPED = ("default",)


def _strict(node: Any, defs: Schema) -> Any:
    if isinstance(node, list):
        return [_strict(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: value for key, value in node.items() if key not in _DROPPED}
    if "$ref" in node and len(node) > 1:  # strict mode: no keywords beside a $ref
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**copy.deepcopy(_ref_target(node["$ref"], defs)), **siblings}
    if "allOf" in node and len(node["allOf"]) == 1:
        only = node.pop("allOf")[0]
        node = {**only, **node} if "$ref" not in only else {**node, **only}
        if "$ref" in node and len(node) > 1:
            return _strict(node, defs)
    out: Schema = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions"):
            out[key] = {name: _strict(sub, defs) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems"):
            out[key] = _strict(value, defs)
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list((out.get("properties") or {}).keys())
        out.setdefault("properties", {})
    return out


@functools.cache
def _strict_text(model: type[BaseModel]) -> str:
    schema = lean_schema(model)
    return json.dumps(_strict(schema, schema.get("$defs") or {}), separators=(",", ":"))


def strict_schema(model: type[BaseModel]) -> Schema:
    """``model``'s schema under OpenAI's strict rules (a fresh copy)."""
    return json.loads(_strict_text(model))


def strict_violations(schema: Any, path: str = "#") -> list[str]:
    """Where ``schema`` breaks OpenAI's strict rules (empty when it can be sent strict)."""
    found: list[str] = []
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found += strict_violations(item, f"{path}/{index}")
        return found
    if not isinstance(schema, dict):
        return found
    if "default" in schema:
        found.append(f"{path}: has a default")
    if "$ref" in schema and len(schema) > 1:
        found.append(f"{path}: $ref with sibling keywords")
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            found.append(f"{path}: additionalProperties is not false")
        missing = set(schema.get("properties") or {}) - set(schema.get("required") or ())
        if missing:
            found.append(f"{path}: not required: {', '.join(sorted(missing))}")
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            for name, sub in value.items():
                found += strict_violations(sub, f"{path}/{key}/{name}")
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems"):
            found += strict_violations(value, f"{path}/{key}")
    return found
