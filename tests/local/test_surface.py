"""codegen_graph.local exports a deliberate, sorted surface; private modules stay private."""

from __future__ import annotations

import types

import codegen_graph.local as local


def test_all_sorted_and_complete() -> None:
    assert local.__all__ == sorted(local.__all__, key=lambda n: (not n.isupper(), n))
    for name in local.__all__:
        assert hasattr(local, name), name
    public = {
        n
        for n, v in vars(local).items()
        if not n.startswith("_") and n != "annotations" and not isinstance(v, types.ModuleType)
    }
    assert public <= set(local.__all__), public - set(local.__all__)


def test_repr_never_shows_the_token() -> None:
    from codegen_graph import ManualClock

    with local.LocalCodegen("secret-token-123", 5, clock=ManualClock()) as b:
        assert "secret-token-123" not in repr(b)
        assert "secret-token-123" not in repr(b.store)
