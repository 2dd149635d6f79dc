"""Benchmark: one org, 1-8 processes, coordinated through Redis or each on its own.

For every process count (1, 2, 4, 8) the same fleet (default 16 runs of 30-90 simulated
seconds, split evenly over the processes) is run twice against a fresh local backend with
the documented limits (``tools/bench_wait.py``'s server process, one simulated clock for
all processes):

* ``coordinated``: every worker's client has ``coordination=Coordination(redis_url)``;
* ``independent``: the same clients without it (each spends the whole budget alone).

Each worker calls ``run_many`` over its prompts with default settings. Printed per row:
runs completed, status requests the server answered (``GET /agent/run/{id}`` plus
``GET /agent/runs``), 429s, makespan / ideal (ideal: the create budget and the run
durations only) and the p95 of detection latency (server completion -> the worker's wait
returning, simulated seconds). Results: ``docs/performance.md``.

Usage::

    python tools/bench_coordination.py             # ~1-2 min on 2 cores
    python tools/bench_coordination.py --runs 10 --processes 1,4   # quicker
    python tools/bench_coordination.py --json out.json

Needs ``redis-server`` on PATH (Debian's ``redis-server`` package) and the ``[local,redis]``
extras. ``--role worker`` is the child process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import redis_server
from bench_wait import (
    ORG_ID,
    TOKEN,
    BackendSpec,
    Server,
    _epoch,
    _pct,
    _spec_from,
    ideal_makespan,
    make_fleet,
)

from codegen_graph import CodegenClient, Coordination
from codegen_graph.local import free_loopback_port

PROCESSES = (1, 2, 4, 8)
MODES = ("coordinated", "independent")


# -- the worker process ------------------------------------------------------------------------
def _worker(cfg: dict[str, Any]) -> dict[str, Any]:
    spec = _spec_from(cfg["spec"])
    clock = spec.clock()
    coordination: Coordination | bool = False
    if cfg["redis"]:
        coordination = Coordination(cfg["redis"], prefix=cfg["prefix"])
    noticed: dict[int, float] = {}
    client = CodegenClient(TOKEN, ORG_ID, base_url=spec.url, clock=clock, coordination=coordination)
    with client:
        items = client.agent_runs.run_many(
            cfg["prompts"],
            on_progress=lambda p: noticed.__setitem__(p.item.index, clock.now()),
        )
    out = []
    for item in items:
        run = item.run
        out.append(
            {
                "prompt": item.prompt,
                "ok": item.ok,
                "error": type(item.error).__name__ if item.error else None,
                "created_at": _epoch(run.data.created_at) if run is not None else math.nan,
                "noticed": noticed.get(item.index, math.nan),
            }
        )
    poller = getattr(client.watcher, "poller", None)
    return {"items": out, "poller": vars(poller) if poller is not None else None}


# -- one configuration -------------------------------------------------------------------------
def _run_config(
    processes: int, mode: str, fleet: Sequence[Any], scale: float, redis_url: str
) -> dict[str, Any]:
    durations = {p: d for p, d in fleet}
    spec = BackendSpec(
        port=free_loopback_port(),
        scale=scale,
        epoch=time.time(),
        mono0=time.monotonic(),
        durations=durations,
    )
    server = Server(spec).ready()
    prompts = [p for p, _ in fleet]
    shares = [prompts[i::processes] for i in range(processes)]
    prefix = f"bench-{mode}-{processes}-{time.time_ns()}"
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--role", "worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in shares
        ]
        for proc, share in zip(procs, shares, strict=True):
            cfg = {
                "spec": asdict(spec),
                "redis": redis_url if mode == "coordinated" else None,
                "prefix": prefix,
                "prompts": share,
            }
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(cfg))
            proc.stdin.close()
        items = []
        for proc in procs:
            stdout = proc.stdout.read() if proc.stdout else ""
            proc.wait(timeout=600)
            doc = json.loads(stdout.strip().splitlines()[-1])
            items += doc["items"]
            if os.environ.get("BENCH_DEBUG"):  # each worker's poller counters
                print(doc["poller"], file=sys.stderr)
        stats = server.stats()
    finally:
        server.stop()
    done = [i for i in items if i["ok"]]
    detection = [i["noticed"] - (i["created_at"] + durations[i["prompt"]]) for i in done]
    ended = max((i["noticed"] for i in done), default=math.nan)
    started = min((i["created_at"] for i in items if not math.isnan(i["created_at"])), default=0)
    requests = stats["requests"]
    return {
        "processes": processes,
        "mode": mode,
        "completed": len(done),
        "runs": len(items),
        "status_requests": requests.get("get", 0) + requests.get("list", 0),
        "rate_limited": sum(stats["rate_limited"].values()),
        "makespan_ratio": (ended - started) / ideal_makespan([d for _, d in fleet]),
        "detection_p95": _pct(detection, 0.95),
    }


def _table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'processes':>9} | {'mode':<11} | {'completed':>9} | {'status req':>10} | "
        f"{'429s':>5} | {'makespan/ideal':>14} | {'detect p95 s':>12}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['processes']:>9} | {r['mode']:<11} | {r['completed']:>4}/{r['runs']:<4} | "
            f"{r['status_requests']:>10} | {r['rate_limited']:>5} | "
            f"{r['makespan_ratio']:>14.2f} | {r['detection_p95']:>12.2f}"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=16, help="runs in the fleet (default 16)")
    p.add_argument("--time-scale", type=float, default=40.0, help="simulated s per real s")
    p.add_argument("--processes", default=",".join(map(str, PROCESSES)))
    p.add_argument("--json", help="also write the rows as JSON to this file")
    p.add_argument("--role", choices=("worker",), help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.role == "worker":
        print(json.dumps(_worker(json.load(sys.stdin))))
        return 0
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (apt-get install redis-server)", file=sys.stderr)
        return 2
    fleet = make_fleet(args.runs, low=30.0, high=90.0)
    with tempfile.TemporaryDirectory() as workdir, redis_server(Path(workdir)) as url:
        rows = []
        for n in (int(x) for x in args.processes.split(",")):
            for mode in MODES:
                row = _run_config(n, mode, fleet, args.time_scale, url)
                rows.append(row)
                print(f"  {n} processes, {mode}: done", file=sys.stderr, flush=True)
    print(f"fleet: {args.runs} runs of 30-90 s, time_scale {args.time_scale:g}")
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
