"""Smoke test of tools/bench_agent_server.py: its ideals, and a tiny grid on real servers."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench_agent_server.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_agent_server", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_agent_server"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_ideals_follow_the_create_budget(bench: ModuleType) -> None:
    assert bench.ideal_makespan("codegen", 1, 120.0) == 120.0
    assert bench.ideal_makespan("codegen", 100, 120.0) == 99 * 6 + 120.0  # the brief's
    assert bench.window_bound("codegen", 10, 120.0) == 120.0  # ten at once
    assert bench.window_bound("codegen", 11, 120.0) == 180.0  # the 11th a window later
    # feature: the code run, then tests and docs once it is done (two runs in a row)
    assert bench.ideal_makespan("feature", 1, 120.0) == 246.0  # docs created 6 s after tests
    assert bench.window_bound("feature", 1, 120.0) == 240.0
    assert bench.ideal_makespan("feature", 100, 120.0) == 299 * 6 + 120.0  # the budget binds
    assert bench.window_bound("feature", 10, 120.0) == 300.0  # 10 code, 10 + 10 a window on


@pytest.mark.slow
def test_a_tiny_grid(bench: ModuleType) -> None:
    pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem]")
    report = bench.run_benchmark(
        grid=[(3, 3)], graphs=("codegen", "feature"), pairs=0, time_scale=60.0, duration=30.0
    )
    rows = report["rows"]
    assert [(r["graph"], r["threads"], r["jobs"], r["servers"]) for r in rows] == [
        ("codegen", 3, 3, 1),
        ("feature", 3, 3, 1),
    ]
    for row in rows:
        assert row["not_idle"] == 0 and row["duplicates"] == 0, row
        assert row["creates"] == {"codegen": 1, "feature": 3}[row["graph"]] * row["threads"]
        assert row["makespan_s"] >= row["bound_s"] > 0, row  # nothing beats the budget
        # read off /proc: a Python server holds tens of MiB and a few threads, idle or not
        assert row["idle_rss_mib"] > 20 and row["peak_rss_mib"] > 20, row
        assert row["idle_os_threads"] >= 2 and row["peak_os_threads"] >= 2, row
    text = bench.format_report(report)
    assert "| graph | N | jobs/worker |" in text and "| codegen | 3 | 3 | 1 | no | 3 |" in text


@pytest.mark.slow
def test_two_servers_through_one_redis_get_no_429(bench: ModuleType) -> None:
    pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem]")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    # 30 creates: each server's client alone would send the org's 10 at once (20 in the
    # first window, 429s); through Redis the two spend one budget. Time scale 10: a window is
    # 6 real seconds, longer than the servers take to start their threads, however loaded.
    both = {"servers": 2, "time_scale": 10.0, "duration": 30.0}
    row = bench.measure("codegen", 30, 30, redis=True, **both)
    assert (row.servers, row.redis, row.creates, row.not_idle) == (2, True, 30, 0)
    assert row.http_429 == 0 and row.duplicates == 0, row
    alone = bench.measure("codegen", 30, 30, redis=False, **both)
    assert alone.http_429_create > 0 and alone.duplicates == 0, alone  # what Redis prevents
