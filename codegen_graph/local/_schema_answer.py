"""Answering ``output_schema`` prompts on the local backend.

A prompt that asks for a typed result carries a JSON Schema in a ```` ```json-schema ````
fence (see ``codegen_graph._output``; the local backend shares only the wire models, so the
fence name is repeated here and a test keeps the two equal). :func:`with_schema_answer`
appends to a behaviour's result a fenced ``json`` object that validates against the schema
of the latest prompt that has one, so typed runs are tested offline. Scenarios make a run
answer invalid first by giving an attempt an explicit ``result`` (which is kept as is).

:func:`instance` builds the value from the schema as Pydantic writes it (``const``, ``enum``,
``$ref``, ``allOf``, ``anyOf``/``oneOf``, required properties, ``minProperties``, tuples,
``minItems``/``maxItems`` with distinct items for sets, bounds and ``multipleOf``, string
lengths and formats); ``pattern`` and validators are not honoured.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["find_schema", "instance", "with_schema_answer"]

SCHEMA_FENCE = "json-schema"
_SCHEMA_RE = re.compile(r"```" + re.escape(SCHEMA_FENCE) + r"[ \t]*\r?\n(.*?)```", re.S)
_MAX_DEPTH = 32
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "PT1S",
    "email": "agent@example.invalid",
    "uri": "https://example.invalid/local",
    "url": "https://example.invalid/local",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
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


def _resolve(node: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        if isinstance(target, Mapping):
            return {**_resolve(target, root), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _string(node: Mapping[str, Any], name: str, nth: int) -> str:
    """The property's name, or for the n-th distinct value the number n (names are never
    digits), cut to ``maxLength`` and padded to ``minLength``."""
    if node.get("format") in _FORMATS:
        return _FORMATS[node["format"]]
    text = str(nth) if nth else name[: node.get("maxLength")]
    return text + "x" * (int(node.get("minLength", 0)) - len(text))


def _bound(node: Mapping[str, Any], key: str) -> tuple[float | None, bool]:
    """``(bound, exclusive)`` for ``key`` ``"minimum"`` or ``"maximum"``."""
    closed, open_ = node.get(key), node.get("exclusive" + key.title())
    if isinstance(open_, (int, float)) and not isinstance(open_, bool):
        return open_, True
    return (closed, False) if isinstance(closed, (int, float)) else (None, False)


def _number(node: Mapping[str, Any], integer: bool, nth: int) -> float:
    """The ``nth`` distinct number within the bounds: on the ``multipleOf`` grid (integers:
    a grid of 1) from the lower bound up (else the upper one down), a float between them."""
    (low, low_open), (high, high_open) = _bound(node, "minimum"), _bound(node, "maximum")
    step = node.get("multipleOf") or (1 if integer else None)
    if step is None:
        if low is not None and high is not None:
            return low + (high - low) * (nth + 1) / (nth + 2)
        if low is not None:
            return low + nth + low_open
        return float(nth) if high is None else high - nth - high_open
    if low is not None:
        k = math.ceil(low / step)
        k += k * step < low or (low_open and k * step <= low)
        k += nth
    elif high is not None:
        k = math.floor(high / step)
        k -= k * step > high or (high_open and k * step >= high)
        k -= nth
    else:
        k = nth
    return k * step


def instance(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A value that validates against ``schema`` (a Pydantic-style JSON Schema)."""
    return _build(schema, root if root is not None else schema, "value", 0, 0)


def _build(node: Any, root: Mapping[str, Any], name: str, depth: int, nth: int) -> Any:
    """A value of ``node``; ``nth`` picks the n-th of distinct ones (set items, dict keys)."""
    node = _resolve(node, root)
    if depth > _MAX_DEPTH:
        return None
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][nth % len(node["enum"])]
    if isinstance(node.get("allOf"), list):
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for branch in node["allOf"]:
            merged = {**_resolve(branch, root), **merged}
        return _build(merged, root, name, depth + 1, nth)
    for key in ("anyOf", "oneOf"):
        branches = [_resolve(b, root) for b in node.get(key) or ()]
        if branches:
            useful = [b for b in branches if b.get("type") != "null"] or branches
            return _build(useful[0], root, name, depth + 1, nth)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in node):
        return _object(node, root, depth + 1, nth)
    if kind == "array":
        prefix, items = node.get("prefixItems") or [], node.get("items")
        count = max(len(prefix), int(node.get("minItems", 0 if prefix else 1)))
        count = min(count, int(node.get("maxItems", count)))
        schemas = (list(prefix) + [items] * count)[:count]
        return [_build(sub, root, name, depth + 1, nth + i) for i, sub in enumerate(schemas)]
    if kind in ("integer", "number"):
        value = _number(node, kind == "integer", nth)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return nth % 2 == 1
    if kind == "null":
        return None
    return _string(node, name, nth)


def _object(node: Mapping[str, Any], root: Mapping[str, Any], depth: int, nth: int) -> Any:
    """The required properties, then entries up to ``minProperties`` (a constrained dict)."""
    props = node.get("properties") or {}
    out = {key: _build(props.get(key), root, key, depth, nth) for key in node.get("required", ())}
    least = int(node.get("minProperties", 0))
    keys, values = node.get("propertyNames"), node.get("additionalProperties")
    for i in range(least + len(out)):  # enough when keys may collide with properties
        if len(out) >= least:
            break
        out.setdefault(
            str(_build(keys, root, "key", depth, i)), _build(values, root, "value", depth, i)
        )
    return out


def with_schema_answer(prompts: Sequence[str], result: str) -> str:
    """``result``, followed by a fenced JSON answer when the run was asked for one."""
    schema = find_schema(prompts)
    if schema is None:
        return result
    answer = json.dumps(instance(schema), indent=2, sort_keys=True)
    return f"{result}\n\n```json\n{answer}\n```"
