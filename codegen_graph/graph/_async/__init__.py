"""The graph nodes' work, written once as async code (``_sync`` is generated from it)."""
