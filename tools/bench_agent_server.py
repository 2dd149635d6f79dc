"""Benchmark: the ``codegen`` and ``feature`` graphs on LangGraph's Agent Server.

Each configuration starts a fresh ``codegen-graph serve`` (a ``LocalServer``: the documented
rate limits, simulated time ``--time-scale``, every agent run lasting ``--duration`` simulated
seconds) and a fresh ``langgraph dev --n-jobs-per-worker J`` serving this checkout's
``langgraph.json``, pointed at the backend as its Codegen API (``CODEGEN_API_TOKEN``,
``CODEGEN_ORG_ID``, ``CODEGEN_API_BASE_URL``, and ``CODEGEN_GRAPH_TIME_SCALE`` so the graphs'
client keeps the backend's time). Nothing is tuned: the graphs and the client run with the
library's defaults. N threads are created, then N runs submitted at once through
``langgraph-sdk``; the configuration ends when no thread is busy.

Printed per row (simulated seconds): the makespan (first run submitted -> last thread idle,
from the server's own ``updated_at``), the **ideal** the create budget allows at its steady
rate (C creates need ``(C - 1) x 6`` s, plus one run's duration: C = N for ``codegen``, 3N for
``feature``), the **bound** of the sliding window (10 creates at once, then 10 per 60 s), the
backend's 429s and duplicated runs (two runs for one idempotency key), threads that did not
end idle, and the peak RSS and OS threads of the ``langgraph dev`` process group.

Then two ``langgraph dev`` processes on one org share the N threads, once coordinated through
one ``redis-server`` (``CODEGEN_REDIS_URL``, started on a free loopback port) and once
without it. Results: ``docs/performance.md``.

Why time scale 20 by default: the server's own costs are real time (the dev server's queue
picks a run up ~0.5-0.8 real s after it is submitted; a checkpoint, a request), and a time
scale multiplies them: at 60 that start-up alone is ~45 simulated seconds, at 20 about 15.

Usage::

    python tools/bench_agent_server.py                      # the full grid (~40 min on 2 cores)
    python tools/bench_agent_server.py --grid 100:100 --graphs codegen --pairs 0
    python tools/bench_agent_server.py --json out.json

Needs ``langgraph-cli[inmem]``, ``langgraph-sdk`` and (for the pairs) ``redis-server``.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from codegen_graph.local import LocalServer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import langgraph_dev, redis_server

GRAPHS = ("codegen", "feature")
#: Creates per stage of a thread: ``feature`` creates its code run, then tests and docs.
STAGES = {"codegen": (1,), "feature": (1, 2)}
CREATE_BUDGET = (10, 60.0)  # Codegen's documented create limit
#: (threads, jobs per worker): the default 10 slots, enough slots, and more than enough
GRID = ((10, 10), (100, 10), (100, 20), (100, 100), (500, 100), (500, 500))
STARTUP_TIMEOUT = 60.0  # real seconds
SUBMIT_CONCURRENCY = 32  # SDK calls in flight while threads are created and runs submitted


def _creates(graph: str, threads: int, duration: float, window: bool) -> float:
    """When the last run ends if only the create budget and the runs' durations mattered:
    each create at the earliest the budget allows, in the order they become possible (a
    ``feature`` thread's tests and docs once its code run is done)."""
    calls, period = CREATE_BUDGET
    stages = STAGES[graph]
    queue = [(0.0, thread, 0) for thread in range(threads)]
    times: list[float] = []
    end = 0.0
    while queue:
        ready, thread, stage = heapq.heappop(queue)
        for _ in range(stages[stage]):
            t = max(ready, times[-1] if times else 0.0)
            if window and len(times) >= calls:
                t = max(t, times[-calls] + period)  # the sliding window: 10 in any 60 s
            elif not window and times:
                t = max(t, times[-1] + period / calls)  # the steady rate: one per 6 s
            times.append(t)
        done = times[-1] + duration
        end = max(end, done)
        if stage + 1 < len(stages):
            heapq.heappush(queue, (done, thread, stage + 1))
    return end


def ideal_makespan(graph: str, threads: int, duration: float) -> float:
    """The brief's ideal: creates at the budget's steady rate (one per 6 s), then the runs:
    ``(N - 1) x 6 + duration`` for ``codegen``."""
    return _creates(graph, threads, duration, window=False)


def window_bound(graph: str, threads: int, duration: float) -> float:
    """The sliding window's best: 10 creates at once, the next ones a window later."""
    return _creates(graph, threads, duration, window=True)


# -- processes ----------------------------------------------------------------------------------
def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:  # state, ppid, pgrp
                pids.append(int(entry))
    return pids


def group_usage(pgid: int) -> tuple[float, int]:
    """RSS (MiB, VmRSS summed) and OS threads of every process in a process group."""
    rss_kib = threads = 0
    for pid in _group(pgid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kib += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
    return rss_kib / 1024, threads


# -- one configuration ------------------------------------------------------------------------
@dataclass
class Row:
    graph: str
    threads: int
    jobs: int  # --n-jobs-per-worker of each server process
    servers: int  # langgraph dev processes
    redis: bool
    creates: int
    makespan_s: float
    ideal_s: float
    ratio: float  # makespan / ideal
    bound_s: float
    http_429: int
    http_429_create: int
    rate_limited: dict[str, int]  # 429s per route
    duplicates: int
    not_idle: int  # threads that ended in error (or were still busy)
    idle_rss_mib: float
    peak_rss_mib: float
    idle_os_threads: int
    peak_os_threads: int


def _task(graph: str, i: int) -> dict[str, Any]:
    text = f"Add a /status{i} endpoint that returns the service version"
    if graph == "codegen":
        return {"messages": [{"role": "user", "content": text}]}
    return {"task": text}


async def _drive(urls: Sequence[str], graph: str, n: int, scale: float) -> tuple[float, int]:
    """Create n threads over the servers, submit a run on each at once, wait until no thread
    is busy; returns the makespan (simulated s) and the threads that did not end idle."""
    from langgraph_sdk import get_client

    clients = [get_client(url=url, timeout=120.0) for url in urls]
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

    async def limited(call: Any) -> Any:
        async with gate:
            return await call

    owners = [clients[i % len(clients)] for i in range(n)]
    threads = await asyncio.gather(*(limited(c.threads.create()) for c in owners))
    ids = [t["thread_id"] for t in threads]
    started = datetime.now(timezone.utc)
    await asyncio.gather(
        *(limited(c.runs.create(t, graph, input=_task(graph, i)))
          for i, (c, t) in enumerate(zip(owners, ids, strict=True)))
    )  # fmt: skip
    while sum([await c.threads.count(status="busy") for c in clients]) > 0:
        await asyncio.sleep(0.25)  # real time: the servers work in other processes
    ended, not_idle = started, 0
    for client in clients:
        found = await client.threads.search(
            limit=n + 10, select=["thread_id", "status", "updated_at"]
        )
        for thread in found:
            not_idle += thread["status"] != "idle"
            stamp = thread["updated_at"]
            moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
            ended = max(ended, moment)
    return (ended - started).total_seconds() * scale, not_idle


class _Sampler:
    """Peak RSS and OS threads of some process groups, sampled in the background."""

    def __init__(self, pgids: Sequence[int]) -> None:
        self.pgids, self.rss, self.threads = list(pgids), 0.0, 0

    def sample(self) -> tuple[float, int]:
        usage = [group_usage(g) for g in self.pgids]
        rss, threads = sum(u[0] for u in usage), sum(u[1] for u in usage)
        self.rss, self.threads = max(self.rss, rss), max(self.threads, threads)
        return rss, threads

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)


def measure(
    graph: str,
    n: int,
    jobs: int,
    *,
    servers: int = 1,
    redis: bool = False,
    time_scale: float = 20.0,
    duration: float = 120.0,
) -> Row:
    """One configuration on fresh processes (see the module docstring)."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-lg-")))
        scenario = workdir / "scenario.json"
        rule = {"match": ".*", "count": "run", "attempts": [{"duration": duration}]}
        scenario.write_text(json.dumps({"name": "bench", "rules": [rule]}))
        backend = stack.enter_context(LocalServer(time_scale=time_scale, scenario=str(scenario)))
        env = {**backend.env(), "CODEGEN_GRAPH_TIME_SCALE": f"{time_scale:g}"}
        if redis:
            env["CODEGEN_REDIS_URL"] = stack.enter_context(redis_server(workdir))
        urls, pgids = [], []
        for i in range(servers):
            own = workdir / f"server{i}"
            own.mkdir()
            url, pgid = stack.enter_context(
                langgraph_dev(own, env, jobs=jobs, startup_timeout=STARTUP_TIMEOUT)
            )
            urls.append(url)
            pgids.append(pgid)
        for url in urls:  # build the graph (and its client) before the clock starts
            found = httpx.post(f"{url}/assistants/search", json={"graph_id": graph}, timeout=30)
            assistant = found.json()[0]["assistant_id"]
            httpx.get(f"{url}/assistants/{assistant}/graph", timeout=30.0).raise_for_status()
        idle_rss, idle_threads = _Sampler(pgids).sample()
        sampler = _Sampler(pgids)  # its peaks: from the first sample under load

        async def go() -> tuple[float, int]:
            watch = asyncio.create_task(sampler.run())
            try:
                return await _drive(urls, graph, n, time_scale)
            finally:
                watch.cancel()

        makespan, not_idle = asyncio.run(go())
        stats = backend.stats()
    creates, limited = int(stats["runs_created"]), stats.get("rate_limited", {})
    ideal = ideal_makespan(graph, n, duration)
    return Row(
        graph=graph,
        threads=n,
        jobs=jobs,
        servers=servers,
        redis=redis,
        creates=creates,
        makespan_s=round(makespan, 1),
        ideal_s=round(ideal, 1),
        ratio=round(makespan / ideal, 3),
        bound_s=round(window_bound(graph, n, duration), 1),
        http_429=sum(limited.values()),
        http_429_create=int(limited.get("create", 0)),
        rate_limited=dict(limited),
        duplicates=int(stats["duplicates"]),
        not_idle=not_idle,
        idle_rss_mib=round(idle_rss, 1),
        peak_rss_mib=round(sampler.rss, 1),
        idle_os_threads=idle_threads,
        peak_os_threads=sampler.threads,
    )


# -- the report -------------------------------------------------------------------------------
def run_benchmark(
    *,
    grid: Sequence[tuple[int, int]] = GRID,
    graphs: Sequence[str] = GRAPHS,
    pairs: int = 100,
    time_scale: float = 20.0,
    duration: float = 120.0,
    progress: Any = None,
) -> dict[str, Any]:
    """Every (graph, threads, jobs) of the grid on one server, then (``pairs`` > 0) that many
    threads per graph on two servers, with and without Redis."""
    plan = [dict(graph=g, n=n, jobs=j) for g in graphs for n, j in grid]
    for graph in graphs if pairs else ():
        plan += [dict(graph=graph, n=pairs, jobs=pairs, servers=2, redis=r) for r in (True, False)]
    rows = []
    for item in plan:
        row = measure(**item, time_scale=time_scale, duration=duration)  # type: ignore[arg-type]
        rows.append(asdict(row))
        if progress is not None:
            progress(row)
    return {"time_scale": time_scale, "duration_s": duration, "rows": rows}


COLUMNS = (
    ("graph", "graph"), ("threads", "N"), ("jobs", "jobs/worker"), ("servers", "servers"),
    ("redis", "Redis"), ("creates", "creates"), ("makespan_s", "makespan s"),
    ("ideal_s", "ideal s"), ("ratio", "makespan/ideal"), ("bound_s", "window bound s"),
    ("http_429", "429s"), ("http_429_create", "of which creates"),
    ("duplicates", "duplicates"), ("not_idle", "not idle"),
    ("idle_rss_mib", "RSS idle MiB"), ("peak_rss_mib", "RSS peak MiB"),
    ("idle_os_threads", "OS threads idle"), ("peak_os_threads", "OS threads peak"),
)  # fmt: skip


def format_report(report: dict[str, Any]) -> str:
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    lines = [
        f"time_scale {report['time_scale']:g}, every agent run {report['duration_s']:g} "
        "simulated s; simulated seconds",
        "",
        head,
        rule,
    ]
    for row in report["rows"]:
        cells = ["yes" if row[k] is True else "no" if row[k] is False else str(row[k])
                 for k, _ in COLUMNS]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _grid(text: str) -> list[tuple[int, int]]:
    pairs = [part.split(":") for part in text.split(",") if part.strip()]
    return [(int(n), int(j)) for n, j in pairs]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=_grid, default=list(GRID), help="N:JOBS,... (threads:jobs)")
    parser.add_argument("--graphs", default=",".join(GRAPHS), help="codegen,feature")
    parser.add_argument("--pairs", type=int, default=100, help="threads on two servers (0: skip)")
    parser.add_argument("--time-scale", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=120.0, help="simulated s per run")
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args(argv)
    # a plain `kill` still stops the servers it started (they run in sessions of their own)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    graphs = [g.strip() for g in args.graphs.split(",") if g.strip()]
    unknown = set(graphs) - set(GRAPHS)
    if unknown:
        parser.error(f"unknown graphs {sorted(unknown)}; choose from {', '.join(GRAPHS)}")
    report = run_benchmark(
        grid=args.grid,
        graphs=graphs,
        pairs=args.pairs,
        time_scale=args.time_scale,
        duration=args.duration,
        progress=lambda row: print(json.dumps(asdict(row)), file=sys.stderr, flush=True),
    )
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
