"""What a long-lived client's watcher holds: many sequential waits of runs with big results.

Each wait attaches to a run of a fake API (results of ``--result-kb`` KB, made on demand, so
the API itself holds nothing) and waits for it through the client's one watcher, with the
library defaults. ``tracemalloc`` measures what stays allocated: after a tenth of the waits
(the baseline, measured in the same run) and after all of them. The watcher must forget
each run once its wait ends: the traced memory after all waits stays under ``--bound-mb``
and about where the baseline was.

    python tools/bench_watcher_memory.py                # 10,000 waits of 20 KB results
    python tools/bench_watcher_memory.py --waits 400    # the test suite's quick run
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codegen_graph import CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.models import AgentRunResponse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waits", type=int, default=10_000)
    parser.add_argument("--result-kb", type=int, default=20)
    parser.add_argument("--bound-mb", type=float, default=25.0)
    args = parser.parse_args()
    clock = ManualClock()
    result = "x" * (args.result_kb * 1024)
    finish: dict[int, float] = {}

    def run(run_id: int) -> dict[str, object]:
        done = clock.now() >= finish[run_id]
        return {
            "id": run_id,
            "organization_id": 1,
            "status": "COMPLETE" if done else "ACTIVE",
            "result": f"{run_id}:{result}" if done else None,
        }

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/agent/runs"):
            ids = sorted(finish, reverse=True)[:100]
            page = {"items": [run(i) for i in ids], "total": len(finish), "page": 1}
            return httpx.Response(200, json={**page, "size": 100, "pages": 1})
        return httpx.Response(200, json=run(int(request.url.path.rsplit("/", 1)[-1])))

    transport = httpx.MockTransport(handle)
    baseline_at = max(1, args.waits // 10)
    baseline = 0
    tracemalloc.start()
    with CodegenClient(
        "t", 1, base_url="http://127.0.0.1:9", transport=transport, clock=clock
    ) as client:
        for i in range(1, args.waits + 1):
            finish[i] = clock.now() + 5.0
            handle_ = client.agent_runs.attach(
                AgentRunResponse(id=i, organization_id=1, status="ACTIVE")
            )
            handle_.wait(timeout=3600)
            assert handle_.result is not None
            assert handle_.result.startswith(f"{i}:")
            del handle_
            clock.sleeps.clear()  # ManualClock logs every sleep: its memory, not the watcher's
            if len(finish) > 200:  # the fake API forgets old runs (it is not what we measure)
                finish.pop(min(finish))
            if i == baseline_at:
                gc.collect()
                baseline = tracemalloc.get_traced_memory()[0]
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        held = len(client.watcher._core.latest)
    tracemalloc.stop()
    mb = current / 2**20
    ratio = current / baseline if baseline else float("inf")
    print(f"waits                 {args.waits:,} (results of {args.result_kb} KB)")
    print(f"traced after {baseline_at:,} waits {baseline / 2**20:8.2f} MB (baseline)")
    print(f"traced after {args.waits:,} waits {mb:8.2f} MB ({ratio:.2f}x the baseline)")
    print(f"run states the watcher holds: {held}")
    ok = mb < args.bound_mb and held == 0 and ratio < 1.5
    print(("PASS" if ok else "FAIL") + f" (bound {args.bound_mb:g} MB, 1.5x the baseline)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
