"""Answering ``output_schema`` prompts on the local backend.

A prompt that asks for a typed result carries a JSON Schema in a ```` ```json-schema ````
fence (see ``codegen_graph._output``; the local backend shares only the wire models, so the
fence name is repeated here and a test keeps the two equal). :func:`with_schema_answer`
appends to a behaviour's result a fenced ``json`` object that validates against the schema
of the latest prompt that has one, so typed runs are tested offline. Scenarios make a run
answer invalid first by giving an attempt an explicit ``result`` (which is kept as is).

:func:`instance` builds the value from the schema: ``const``/``enum``/``default`` first, then
the first non-null branch of ``anyOf``/``oneOf``, ``$ref`` into ``$defs``, every required
and optional property of an object, and type-shaped placeholders that respect ``minimum``,
``minLength``, ``minItems`` and the common string ``format`` values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["find_schema", "instance", "with_schema_answer"]

SCHEMA_FENCE = "json-schema"
_SCHEMA_RE = re.compile(r"```" + re.escape(SCHEMA_FENCE) + r"[ \t]*\r?\n(.*?)```", re.S)
_MAX_DEPTH = 12
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "agent@example.invalid",
    "uri": "https://example.invalid/local",
    "url": "https://example.invalid/local",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def find_schema(prompts: Sequence[str]) -> dict[str, Any] | None:
    """The JSON Schema of the latest prompt that carries one (``None``: no typed result)."""
    for prompt in reversed(prompts):
        for block in reversed(_SCHEMA_RE.findall(prompt)):
            try:
                schema = json.loads(block)
            except ValueError:
                continue
            if isinstance(schema, dict):
                return schema
    return None


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        if isinstance(target, Mapping):
            return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _string(node: Mapping[str, Any], name: str) -> str:
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    text = name or "value"
    minimum = int(node.get("minLength", 0) or 0)
    if len(text) < minimum:
        text = text + "x" * (minimum - len(text))
    maximum = node.get("maxLength")
    return text[: int(maximum)] if isinstance(maximum, int) else text


def _number(node: Mapping[str, Any], integer: bool) -> float | int:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    value: float = float(low) if isinstance(low, (int, float)) else 0.0
    if "exclusiveMinimum" in node and isinstance(node["exclusiveMinimum"], (int, float)):
        value += 1
    high = node.get("maximum")
    if isinstance(high, (int, float)) and value > high:
        value = float(high)
    return int(value) if integer else value


def instance(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A value that validates against ``schema`` (a Pydantic-style JSON Schema)."""
    return _build(schema, root if root is not None else schema, "", 0)


def _build(node: Mapping[str, Any], root: Mapping[str, Any], name: str, depth: int) -> Any:
    node = _resolve(node, root)
    if depth > _MAX_DEPTH:
        return None
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][0]
    if "default" in node:
        return node["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [b for b in node.get(key) or [] if isinstance(b, Mapping)]
        if branches:
            useful = [b for b in branches if _resolve(b, root).get("type") != "null"]
            return _build((useful or branches)[0], root, name, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in node):
        props = node.get("properties") or {}
        return {
            key: _build(sub, root, key, depth + 1)
            for key, sub in props.items()
            if isinstance(sub, Mapping)
        }
    if kind == "array":
        items = node.get("items")
        count = max(1, int(node.get("minItems", 1) or 1))
        if not isinstance(items, Mapping):
            return []
        return [_build(items, root, name, depth + 1) for _ in range(count)]
    if kind == "string":
        return _string(node, name)
    if kind == "integer":
        return _number(node, integer=True)
    if kind == "number":
        return _number(node, integer=False)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(node, name)


def with_schema_answer(prompts: Sequence[str], result: str) -> str:
    """``result``, followed by a fenced JSON answer when the run was asked for one."""
    schema = find_schema(prompts)
    if schema is None:
        return result
    answer = json.dumps(instance(schema), indent=2, sort_keys=True)
    return f"{result}\n\n```json\n{answer}\n```"
