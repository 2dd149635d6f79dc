"""The Codegen tools' work, written once (``tools/unasync.py`` writes ``_sync`` from it)."""
