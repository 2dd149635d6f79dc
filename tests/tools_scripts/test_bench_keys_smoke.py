"""Smoke test of tools/bench_keys.py: the cost table for small N, and its shape."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench_keys.py"


def test_requests_per_keyed_create() -> None:
    spec = importlib.util.spec_from_file_location("bench_keys", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_keys"] = module
    spec.loader.exec_module(module)
    report = module.run_benchmark((0, 150))
    cost = {(r["scenario"], r["newer_runs"]): r["requests"] for r in report["rows"]}
    assert report["baseline_unkeyed_create"] == 1
    assert cost["fresh", 0] == 2  # one list page, one POST
    assert cost["fresh", 150] == 3  # two pages of the day's runs, one POST
    assert cost["repeat", 150] == 2  # the run is on the second page: no POST
    assert cost["repeat+memo", 150] == 1  # one GET
    assert cost["batch", 150] < 0.2  # one scan for fifty keys
