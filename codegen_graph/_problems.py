"""Validation problems as text: ``loc: msg`` lines, written once.

Pydantic's ``ValidationError.errors()`` and a server's 422 ``detail`` share one shape (a
list of ``{"loc": [...], "msg": ...}``); every error message that lists what was invalid
(a request the client refused to build, a response that does not match the spec, a 422,
a tool's arguments, a run's structured answer) goes through :func:`problem_lines`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pydantic

__all__ = ["describe_problems", "problem_lines"]


def problem_lines(
    errors: pydantic.ValidationError | Iterable[Any],
    *,
    where: str = "input",
    drop: tuple[str, ...] = (),
    msg: str = "invalid",
    limit: int | None = None,
) -> list[str]:
    """One ``loc: msg`` line per problem.

    Args:
        errors: a pydantic error, or a 422 body's ``detail`` (items that are not mappings
            are skipped).
        where: the location named for a problem with an empty ``loc``.
        drop: ``loc`` parts left out (a server's ``"body"`` prefix says nothing).
        msg: the text for a problem without a ``msg``.
        limit: at most this many lines (all when ``None``).
    """
    if isinstance(errors, pydantic.ValidationError):
        errors = errors.errors(include_url=False, include_input=False)
    lines = []
    for item in errors:
        if not isinstance(item, Mapping):
            continue
        loc = ".".join(str(part) for part in item.get("loc", ()) if part not in drop)
        lines.append(f"{loc or where}: {item.get('msg', msg)}")
        if limit is not None and len(lines) >= limit:
            break
    return lines


def describe_problems(
    errors: pydantic.ValidationError | Iterable[Any], *, sep: str = "; ", **options: Any
) -> str:
    """:func:`problem_lines` joined by ``sep`` (``""`` when there is none)."""
    return sep.join(problem_lines(errors, **options))
