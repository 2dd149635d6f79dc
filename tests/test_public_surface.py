"""The public surface is deliberate: ``__all__`` is sorted, complete and importable."""

from __future__ import annotations

import codegen_graph


def test_all_is_sorted() -> None:
    assert codegen_graph.__all__ == sorted(codegen_graph.__all__)


def test_all_names_exist() -> None:
    for name in codegen_graph.__all__:
        assert hasattr(codegen_graph, name), name


def test_every_public_attribute_is_exported() -> None:
    public = {
        name
        for name in vars(codegen_graph)
        if not name.startswith("_") and name not in {"annotations"}
    }
    # Submodules are reachable as attributes but are not part of __all__.
    import types

    public = {n for n in public if not isinstance(getattr(codegen_graph, n), types.ModuleType)}
    assert public <= set(codegen_graph.__all__), public - set(codegen_graph.__all__)
