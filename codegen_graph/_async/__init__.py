"""The behaviour of the client, written once as async code.

``tools/unasync.py`` derives :mod:`codegen_graph._sync` from these modules (``--check`` in
the test suite fails on a stale one); see ``docs/contributing.md``. Bottom up: the requester
(``api``), keyed creates and the watcher on it, run handles on those, batches on handles,
the resources, and the client that wires them.
"""
