"""The public surface is deliberate: every public module's ``__all__`` is in one order,
complete and importable, the top level stays small, and no two public things share a name.

The one order is ruff's (RUF022, isort style: constants, then classes, then the rest, each
sorted), so the linter keeps it and this test says why it matters.
"""

from __future__ import annotations

import importlib
import types
from collections import defaultdict
from typing import TypeVar

import pytest

import codegen_graph

PUBLIC_MODULES = (
    "codegen_graph",
    "codegen_graph.backend",
    "codegen_graph.clock",
    "codegen_graph.compat",
    "codegen_graph.graph",
    "codegen_graph.local",
    "codegen_graph.models",
    "codegen_graph.observability",
    "codegen_graph.plugins",
    "codegen_graph.resources",
    "codegen_graph.tools",
)

#: At most this many names at the top level; the rest live in their subpackages.
TOP_LEVEL_LIMIT = 37  # 35, + AccessToken (token expiry, #24) and ClientClosedError (#21)


def _order(name: str) -> tuple[int, str]:
    """RUF022's isort-style key: SCREAMING_CASE, then CamelCase, then anything else."""
    if name.upper() == name and not name.startswith("_"):
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


@pytest.fixture(params=PUBLIC_MODULES)
def module(request: pytest.FixtureRequest) -> types.ModuleType:
    return importlib.import_module(request.param)


def test_all_is_in_the_one_order(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=_order)


def test_all_names_exist(module: types.ModuleType) -> None:
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def _part_of_surface(value: object, module: types.ModuleType) -> bool:
    """In a package every public attribute is surface; in a module, what it defines."""
    if isinstance(value, types.ModuleType):
        return False
    if hasattr(module, "__path__"):
        return True
    return getattr(value, "__module__", None) == module.__name__ and not isinstance(value, TypeVar)


def test_every_public_attribute_is_exported(module: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and name != "annotations" and _part_of_surface(value, module)
    }
    assert public <= set(module.__all__), public - set(module.__all__)


def test_the_top_level_is_small() -> None:
    assert len(codegen_graph.__all__) <= TOP_LEVEL_LIMIT, len(codegen_graph.__all__)


def test_no_two_public_things_share_a_name() -> None:
    """The same object may be re-exported, but one name never means two things."""
    seen: dict[str, set[int]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for name in PUBLIC_MODULES:
        mod = importlib.import_module(name)
        for attr in mod.__all__:
            seen[attr].add(id(getattr(mod, attr)))
            where[attr].append(name)
    clashes = {attr: where[attr] for attr, ids in seen.items() if len(ids) > 1}
    assert clashes == {}


def test_internals_stay_off_the_top_level() -> None:
    for name in ("CircuitBreaker", "RunWatcher", "WatcherStats", "RateLimiter", "ManualClock"):
        assert name not in codegen_graph.__all__
        assert not hasattr(codegen_graph, name)
