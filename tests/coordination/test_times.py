"""Every time the coordination keeps in Redis comes from one function."""

from __future__ import annotations

import importlib
import inspect
import time
from pathlib import Path

from codegen_graph._coordination import _budget, _poller, _redis

PACKAGE = Path(_redis.__file__).parent


def test_redis_times_have_one_source() -> None:
    """The budgets' slot stamps and the poller's heartbeats must agree on what ``now`` is:
    one definition of the real milliseconds, in the module that says times are real ms."""
    modules = [
        importlib.import_module(f"codegen_graph._coordination.{path.stem}")
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    ]
    defined = sorted(
        (f"{module.__name__.rpartition('.')[2]}.py", name)
        for module in modules
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__
        if name.lstrip("_") == "now_ms"
    )
    assert defined == [("_base.py", "now_ms")]
    assert _budget.now_ms is _redis.now_ms and _poller.now_ms is _redis.now_ms
    before = time.time_ns() // 1_000_000
    assert before <= _redis.now_ms() <= time.time_ns() // 1_000_000
