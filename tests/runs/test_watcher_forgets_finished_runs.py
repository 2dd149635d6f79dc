"""The watcher keeps a run's state only while someone waits for it (issue 21, case 6: its
memory of final states was never pruned; 10,000 waits of 20 KB results held 218 MB).
``tools/bench_watcher_memory.py`` measures the memory itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "after 20 waits the watcher holds no run state, and `tools/bench_watcher_memory.py` "
    "(200 waits) stays under its bound"
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_watcher_forgets_each_run_once_its_waits_end() -> None:
    with LocalCodegen(clock=ManualClock(), rate_limits=False) as local, local.client() as client:
        for i in range(20):
            run = client.agent_runs.start(f"task {i}")
            run.wait(timeout=3600)
            assert run.is_success
        core = client.watcher._core
        assert core.latest == {} and core.positions == {} and core.waiters == {}


def test_the_memory_benchmark_stays_under_its_bound() -> None:
    """A small run of the benchmark (the docs quote the 10,000-wait one)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench_watcher_memory.py"), "--waits", "200"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "PASS" in done.stdout, done.stdout
