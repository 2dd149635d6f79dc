"""Smoke test of tools/bench_wait.py: a tiny fleet through every contender, fast."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench_wait.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_wait", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_wait"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_ideal_makespan_follows_the_create_budget(bench: ModuleType) -> None:
    assert bench.ideal_makespan([100.0] * 10) == 100.0
    assert bench.ideal_makespan([100.0] * 11) == 160.0  # the 11th create waits a window
    assert bench.ideal_makespan([10.0] * 21, (10, 60.0)) == 130.0
    fleet = bench.make_fleet(40)
    durations = sorted(d for _, d in fleet)
    assert durations[0] == 60.0 and durations[-1] == 360.0
    assert len({p for p, _ in fleet}) == 40


def test_tiny_fleet_report(bench: ModuleType) -> None:
    report = bench.run_benchmark(
        runs=4,
        time_scale=200.0,
        low=30.0,
        high=45.0,
        tracked=5,
        scaling=100,  # 10 waited runs; 1 waited run behind 3 newer ones
        scaling_time_scale=100.0,
        isolate=False,
    )
    results = {r["contender"]: r for r in report["contenders"]}
    assert set(results) == {"ours", "seed", "seed+retry", "seed/no-limits"}
    for result in results.values():
        for key in (*bench.RATIO_KEYS, "makespan_s", "ideal_makespan_s", "http_429", "cpu_s"):
            assert key in result, key
        assert result["runs"] == 4
        assert result["ideal_makespan_s"] == 45.0
    ours = results["ours"]
    assert ours["http_429"] == 0
    assert ours["completed"] == 4 and ours["lost_or_failed"] == 0
    assert 0 <= ours["detect_p50_s"] <= ours["detect_p95_s"]
    assert ours["makespan_s"] >= ours["ideal_makespan_s"]
    assert set(report["ratios"]) == {"ours/seed", "ours/seed+retry", "ours/seed/no-limits"}
    reference = results["seed/no-limits"]  # no limits: the seed's loop survives, no 429s
    assert reference["http_429"] == 0 and reference["completed"] == 4
    assert reference["poll_interval_s"] >= 2.0
    tracking = report["tracking"]
    assert tracking["tracked"] == 5 and tracking["timed_out"] == 5
    scaled = {f["fleet"]: f for f in report["scaling"]}
    assert set(scaled) == {"1,000 runs", "old runs"}
    assert scaled["1,000 runs"]["waited"] == 10 and scaled["old runs"]["newer"] == 3
    for fleet in scaled.values():
        assert fleet["completed"] == fleet["waited"]
        assert fleet["pages_needed"] == 1 and fleet["detect_limit_s"] > 0
        assert fleet["server_status_requests"] >= fleet["watcher_ticks"] > 0
    text = bench.format_report(report)
    assert "| metric | ours | seed | seed+retry | seed/no-limits |" in text
    assert "tracking 5 waiting runs" in text
    assert "old runs: 1 waited runs behind 3 newer ones" in text
