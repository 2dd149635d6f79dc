"""The observability and plugins packages export a deliberate, sorted surface."""

from __future__ import annotations

import types

import pytest

import codegen_graph.observability
import codegen_graph.plugins


@pytest.mark.parametrize("module", [codegen_graph.observability, codegen_graph.plugins])
def test_all_is_sorted_complete_and_importable(module: types.ModuleType) -> None:
    # Sorted as ruff's RUF022 wants: CONSTANTS, then Classes, then functions.
    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert module.__all__ == sorted(module.__all__, key=key)
    for name in module.__all__:
        assert hasattr(module, name), name
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and n != "annotations" and not isinstance(v, types.ModuleType)
    }
    assert public <= set(module.__all__), public - set(module.__all__)
