"""codegen_graph.local: what its objects show (its __all__: tests/test_public_surface.py)."""

from __future__ import annotations

import codegen_graph.local as local


def test_repr_never_shows_the_token() -> None:
    from codegen_graph.clock import ManualClock

    with local.LocalCodegen("secret-token-123", 5, clock=ManualClock()) as b:
        assert "secret-token-123" not in repr(b)
        assert "secret-token-123" not in repr(b.store)
