"""The docstring examples of codegen_graph.graph run (docs/graph.md: test_docs_examples.py)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["_draw", "_keys", "_messages", "_retry", "_state"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"codegen_graph.graph.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
