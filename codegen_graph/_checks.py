"""Argument checks and pagination, shared by every call the client describes (no I/O).

A bad argument is a :class:`~codegen_graph.ConfigurationError` naming it, before any
request is built: never a raw pydantic, httpx or encoder error from deep inside.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic
import pydantic_core

from ._exceptions import ConfigurationError
from ._problems import describe_problems

__all__ = [
    "build_input",
    "check_id",
    "check_limit",
    "check_metadata",
    "check_sendable",
    "check_skip",
    "check_text",
    "check_timeout",
    "next_skip",
]

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

MAX_LIMIT = 100


def check_id(name: str, value: object) -> int:
    """A positive integer id, or :class:`ConfigurationError` before any request."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_limit(value: object, name: str = "limit") -> int:
    """A page size within the API's 1..100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ConfigurationError(f"{name} must be an integer from 1 to {MAX_LIMIT}, got {value!r}")
    return value


def check_skip(value: object) -> int:
    """A non-negative offset."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"skip must be an integer >= 0, got {value!r}")
    return value


def check_timeout(value: object) -> float | None:
    """A wait's timeout: ``None`` (no deadline) or a non-negative number of clock seconds
    (waits, log streams and batches all check theirs with this)."""
    if value is None:
        return None
    # numbers.Real: numpy's numbers too, as the arithmetic before this check took them.
    seconds = float(value) if isinstance(value, numbers.Real) else math.nan
    if isinstance(value, bool) or not seconds >= 0:
        raise ConfigurationError(
            f"timeout must be a non-negative number of seconds, or None, got {value!r}"
        )
    return seconds


def _text_problem(text: str) -> str | None:
    """What makes ``text`` unsendable as JSON text, or ``None``."""
    for index, ch in enumerate(text):
        if ch == "\x00":
            return f"a NUL character (U+0000) at position {index}"
        if "\ud800" <= ch <= "\udfff":
            return (
                f"a lone surrogate (U+{ord(ch):04X}) at position {index}, which is not valid "
                "Unicode (text decoded with errors='surrogateescape'?)"
            )
    return None


def check_text(name: str, value: object) -> str:
    """A non-empty string (such as a prompt) that can be sent as JSON text.

    Lone surrogates cannot be encoded as UTF-8 and NUL characters are not storable text;
    both are refused here, naming the position, instead of failing deep inside the encoder.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    problem = _text_problem(value)
    if problem is not None:
        raise ConfigurationError(f"{name} contains {problem}; remove it and try again")
    return value


def check_metadata(value: object) -> dict[str, Any]:
    """A copy of ``metadata=...`` as a dict (``None`` gives an empty one).

    Raises:
        ConfigurationError: not a mapping (its values are checked by :func:`build_input`).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"metadata must be a mapping of str to JSON values, got {type(value).__name__}"
        )
    return dict(value)


def _json_problem(value: Any, path: str) -> str | None:
    """The first part of a JSON-mode dump that cannot be sent, as ``path: problem``."""
    if isinstance(value, str):
        problem = _text_problem(value)
        return None if problem is None else f"{path} contains {problem}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value!r}, which JSON cannot carry"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _json_problem(key, f"{path} key") or _json_problem(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _json_problem(item, f"{path}[{i}]")
            if found:
                return found
    return None


def check_sendable(model: pydantic.BaseModel) -> dict[str, Any]:
    """The JSON body of a request model, or :class:`ConfigurationError` naming the field
    that cannot be sent (an object JSON cannot represent, a NaN, a lone surrogate, NUL).

    Returns:
        ``model.model_dump(mode="json", exclude_none=True)``, checked to encode as UTF-8.
    """
    name = type(model).__name__
    # The Python-mode dump shows values as given: the JSON-mode one already replaced a
    # lone surrogate in a key by U+FFFD and a NaN by null, losing them without a word.
    problem = _json_problem(model.model_dump(exclude_none=True), "body")
    if problem is not None:
        raise ConfigurationError(f"Invalid {name}: {problem.removeprefix('body.')}")
    try:
        body = model.model_dump(mode="json", exclude_none=True)
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError) as exc:
        # ValueError: bytes that are not UTF-8 (pydantic's JSON mode decodes bytes).
        raise ConfigurationError(
            f"Invalid {name}: a value is not JSON-serialisable ({type(exc).__name__}: {exc}); "
            "metadata values "
            "must be JSON types (str, int, float, bool, None, lists and dicts of them)"
        ) from None
    try:
        json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # pragma: no cover - the walk above covers these
        raise ConfigurationError(f"Invalid {name}: the body cannot be encoded ({exc})") from None
    return body


def build_input(model_cls: type[M], /, **fields: Any) -> M:
    """A request body model, with pydantic's complaints turned into one clear error.

    The model is also checked to be sendable (see :func:`check_sendable`), so an
    unserialisable metadata value fails here, at the call, not inside the encoder.
    """
    try:
        model = model_cls(**{k: v for k, v in fields.items() if v is not None})
    except pydantic.ValidationError as exc:
        problems = describe_problems(exc, limit=5)
        raise ConfigurationError(f"Invalid {model_cls.__name__}: {problems}") from None
    check_sendable(model)
    return model


def next_skip(skip: int, received: int, total: int | None, page_size: int) -> int | None:
    """The offset of the next page, or ``None`` when the listing is exhausted."""
    if received == 0:
        return None
    nxt = skip + received
    if total is not None and nxt >= total:
        return None
    if total is None and received < page_size:
        return None
    return nxt
