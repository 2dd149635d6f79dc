"""Benchmark: waiting for a fleet of agent runs under Codegen's documented rate limits.

One fleet (default 40 runs lasting 1-6 simulated minutes) is run by three contenders, each
against its own fresh local backend served by uvicorn on 127.0.0.1 in a separate process
(same behaviour, same seed, same ``time_scale``), each client in its own process too, so
CPU time and peak RSS are the client's alone:

* ``ours``: :class:`codegen_graph.CodegenClient` - creates paced by the client's create
  budget, one thread per run blocked in ``run.wait()``, all of them served by the client's
  one batched :class:`~codegen_graph._sync.watcher.RunWatcher`;
* ``seed``: the seed SDK's loop - ``Agent(token, org_id).run(prompt)`` POSTs the create with
  a new ``httpx.Client`` per call (no connection reuse), then the task's ``refresh()`` GETs
  the run every 2 simulated seconds from the run's own thread; no retries: a 429 or an error
  loses the run;
* ``seed+retry``: the same loop with an exponential backoff around every call (3 retries
  after 1, 2 and 4 simulated seconds).

Then one client tracks 1,000 waiting runs (``--tracked``) and its RSS is compared with the
same process before it created them. Results: ``docs/performance.md``.

Two **scaling fleets** follow (``--scaling``; ``0`` skips them), each in one async client
with the library defaults, on its own backend (creates let through fast, the documented
standard budget on both sides):

* ``1,000 runs``: 1,000 runs lasting 1-3 simulated minutes, all waited at once;
* ``old runs``: 150 waited runs behind 300 newer runs nobody waits for.

For each: detection latency p50/p95 against **the limit set by the pages needed per tick**
(two ticks of ``ceil(position of the oldest waited run / 100)`` list pages, each request
spaced ``31 s / (60 x 0.8)``), and the watcher's request rate measured at the server
against its 80% share of the standard budget.

Usage::

    python tools/bench_wait.py            # the full fleet (~35-50 s on 2 cores)
    python tools/bench_wait.py --quick    # a smaller fleet (~15 s)
    python tools/bench_wait.py --json out.json

Internal roles (``--role server`` / ``--role client``) are the child processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

# Imported before any measurement, so no contender pays for the package's import.
from codegen_graph import (
    AsyncCodegenClient,
    CodegenClient,
    CodegenError,
    RateBudget,
    RateBudgets,
    RunTimeoutError,
)
from codegen_graph.local import free_loopback_port

T = TypeVar("T")

TOKEN = "bench-token"
ORG_ID = 4242
CREATE_LIMIT = (10, 60.0)  # documented: create 10 per 60 s
STANDARD_LIMIT = (60, 30.0)  # documented: every other endpoint 60 per 30 s
SEED_POLL = 2.0  # the seed polls each run every 2 s
SEED_BACKOFF = (1.0, 2.0, 4.0)  # the seed's retry wrapper: 3 retries
TERMINAL = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
CONTENDERS = ("ours", "seed", "seed+retry")
#: A reference, not a contender: the seed's loop against a backend without rate limits, i.e.
#: what polling every run every 2 s costs when the API lets it.
REFERENCE = "seed/no-limits"


# -- time shared by every process ------------------------------------------------------------
@dataclass(frozen=True)
class AnchoredClock:
    """A scaled clock that reads the same simulated time in every process.

    ``time.monotonic`` is system-wide on Linux, so clocks built from the same
    ``(scale, epoch, mono0)`` agree across the server and client processes; detection latency
    compares the server's completion time with the client's noticing time on one time line.
    """

    scale: float
    epoch: float
    mono0: float

    def now(self) -> float:
        return self.epoch + (time.monotonic() - self.mono0) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


# -- the fleet ---------------------------------------------------------------------------------
def make_fleet(n: int, *, seed: int = 7, low: float = 60.0, high: float = 360.0) -> list[Any]:
    """``n`` (prompt, duration) pairs, durations evenly spread over [low, high], shuffled."""
    step = (high - low) / max(1, n - 1)
    durations = [round(low + step * i, 1) for i in range(n)]
    random.Random(seed).shuffle(durations)
    return [(f"fleet task {i:03d}", d) for i, d in enumerate(durations)]


def ideal_makespan(durations: Sequence[float], create: tuple[int, float] = CREATE_LIMIT) -> float:
    """Makespan if only the create budget and the run durations mattered (creates in order)."""
    calls, window = create
    starts: list[float] = []
    for i in range(len(durations)):
        t = starts[-1] if starts else 0.0
        if i >= calls:
            t = max(t, starts[i - calls] + window)
        starts.append(t)
    return max((s + d for s, d in zip(starts, durations, strict=True)), default=0.0)


class FleetBehavior:
    """Every run completes after the duration its prompt was given (default: one day)."""

    def __init__(self, durations: dict[str, float], default: float = 86_400.0) -> None:
        self.durations, self.default = durations, default

    def plan(self, ctx: Any) -> Any:
        from codegen_graph.local import Outcome, Step

        return Outcome(
            status="COMPLETE",
            result=f"done: {ctx.prompt}",
            steps=(Step("PLAN_EVALUATION", thought="plan"),),
            duration=self.durations.get(ctx.prompt, self.default),
        )


# -- the backend process -----------------------------------------------------------------------
@dataclass
class BackendSpec:
    """Everything a server process and its clients need to agree on."""

    port: int
    scale: float
    epoch: float
    mono0: float
    durations: dict[str, float] = field(default_factory=dict)
    create_limit: tuple[int, float] = CREATE_LIMIT
    rate_limits: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clock(self) -> AnchoredClock:
        return AnchoredClock(self.scale, self.epoch, self.mono0)


def _backend_app(spec: BackendSpec) -> Any:
    """The local backend's ASGI app with this fleet's behaviour, clock and limits."""
    from codegen_graph.local import LocalCodegen, RateLimit, RateLimits

    limits = RateLimits(create=RateLimit(*spec.create_limit), standard=RateLimit(*STANDARD_LIMIT))
    if not spec.rate_limits:
        limits = RateLimits(create=None, standard=None, logs=None)
    backend = LocalCodegen(
        TOKEN,
        ORG_ID,
        clock=spec.clock(),
        behavior=FleetBehavior(spec.durations),
        rate_limits=limits,
        base_url=spec.url,
    )
    return backend.app


def _serve(spec: BackendSpec) -> None:
    """The server role: ``codegen-graph serve`` with this fleet's behaviour and clock."""
    import uvicorn

    uvicorn.run(_backend_app(spec), host="127.0.0.1", port=spec.port, log_level="warning")


class Server:
    """A backend behind uvicorn on 127.0.0.1: in its own process (default, so its CPU is
    not the client's), or in a thread of this process (``in_thread=True``, for tests)."""

    def __init__(self, spec: BackendSpec, *, in_thread: bool = False) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[str] | None = None
        self.uvicorn: Any = None
        if in_thread:
            import uvicorn

            config = uvicorn.Config(
                _backend_app(spec), host="127.0.0.1", port=spec.port, log_level="warning"
            )
            self.uvicorn = uvicorn.Server(config)
            self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)
            self.thread.start()
            return
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--role", "server"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"role": "server", "spec": asdict(spec)}))
        self.proc.stdin.close()

    @property
    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return bool(self.thread.is_alive())

    def ready(self, timeout: float = 30.0) -> Server:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.spec.url}/_local/stats", timeout=0.5)
                return self
            except httpx.TransportError:
                if not self.running or time.monotonic() > deadline:
                    err = self.proc.stderr.read() if self.proc and self.proc.stderr else ""
                    raise RuntimeError(f"bench server did not start: {err}") from None
                time.sleep(0.02)  # a real server binding its socket

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.spec.url}/_local/stats", timeout=5).json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.uvicorn is not None:
            self.uvicorn.should_exit = True
            self.thread.join(timeout=10)
            return
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()


# -- measurements ------------------------------------------------------------------------------
def rss_mb(kind: str = "VmRSS") -> float:
    """Resident set size (``VmRSS``) or its peak (``VmHWM``) of this process, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(kind + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _epoch(stamp: str | None) -> float:
    if not stamp:
        return math.nan
    return datetime.fromisoformat(stamp).timestamp()


def _pct(values: Sequence[float], q: float) -> float:
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return math.nan
    return data[min(len(data) - 1, round(q * (len(data) - 1)))]


@dataclass
class RunRecord:
    """What one contender saw of one run (simulated seconds unless ``_ms``)."""

    prompt: str
    duration: float
    startup_ms: float = math.nan
    created_at: float = math.nan
    noticed: float = math.nan
    ended: float = math.nan
    status: str | None = None
    error: str | None = None
    polls: int = 0

    @property
    def completion(self) -> float:
        """Server-side completion: the behaviour lays the final answer at create + duration."""
        return self.created_at + self.duration

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == "COMPLETE"


# -- contender (a): this project ---------------------------------------------------------------
def _run_ours(spec: BackendSpec, fleet: Sequence[Any]) -> tuple[list[RunRecord], dict[str, Any]]:
    clock = spec.clock()
    records = [RunRecord(p, d) for p, d in fleet]
    client = CodegenClient(TOKEN, ORG_ID, base_url=spec.url, clock=clock)

    def wait(run: Any, rec: RunRecord) -> None:
        try:
            run.wait()
            rec.noticed = rec.ended = clock.now()
            rec.status = run.status.raw if run.status is not None else None
        except CodegenError as exc:
            rec.error, rec.ended = type(exc).__name__, clock.now()

    threads = []
    with client:
        for rec in records:
            # Wait for create budget first, so the timed call below is the call, not the queue.
            clock.sleep(client.rate_budgets.next_free_at("create") - clock.now())
            t0 = time.perf_counter()
            try:
                run = client.agent_runs.start(rec.prompt)
            except CodegenError as exc:
                rec.error, rec.ended = type(exc).__name__, clock.now()
                continue
            rec.startup_ms = (time.perf_counter() - t0) * 1000
            rec.created_at = _epoch(run.data.created_at)
            thread = threading.Thread(target=wait, args=(run, rec), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        stats = client.watcher.stats
        extra = {"watcher_ticks": stats.ticks, "watcher_requests": stats.requests}
    return records, extra


# -- contenders (b) and (c): the seed's loop ----------------------------------------------------
class SeedTask:
    """The seed SDK's task handle: ``refresh()`` GETs the run with a brand-new client."""

    def __init__(self, agent: SeedAgent, body: dict[str, Any]) -> None:
        self.agent, self.id = agent, int(body["id"])
        self.status: str | None = body.get("status")
        self.created_at: str | None = body.get("created_at")

    def refresh(self) -> None:
        body = self.agent.request("GET", f"/agent/run/{self.id}")
        self.status = body.get("status")


class SeedAgent:
    """The seed SDK's ``Agent(token, org_id).run(prompt)``: one new httpx client per call.

    A new ``httpx.Client`` per call means a new TCP connection per call (no reuse). The
    benchmark hands every client one prebuilt ``SSLContext``: the seed's default
    ``httpx.Client()`` loads the CA bundle each time (~25 ms of CPU, measured and reported
    separately), which at a compressed ``time_scale`` would starve the 2-second cadence we
    want to reproduce.
    """

    def __init__(self, token: str, org_id: int, base_url: str, ctx: ssl.SSLContext) -> None:
        self.token, self.org_id, self.base_url, self.ctx = token, org_id, base_url, ctx

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        with httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=self.ctx,
            timeout=30,
        ) as http:
            r = http.request(method, f"/v1/organizations/{self.org_id}{path}", json=body)
            r.raise_for_status()
            return r.json()  # type: ignore[no-any-return]

    def run(self, prompt: str) -> SeedTask:
        return SeedTask(self, self.request("POST", "/agent/run", {"prompt": prompt}))


def _with_backoff(call: Callable[[], T], delays: Sequence[float], clock: AnchoredClock) -> T:
    for delay in delays:
        try:
            return call()
        except httpx.HTTPError:
            clock.sleep(delay)
    return call()


def _run_seed(
    spec: BackendSpec, fleet: Sequence[Any], delays: Sequence[float]
) -> tuple[list[RunRecord], dict[str, Any]]:
    clock = spec.clock()
    agent = SeedAgent(TOKEN, ORG_ID, spec.url, ssl.create_default_context())
    records = [RunRecord(p, d) for p, d in fleet]

    def timed_run(rec: RunRecord) -> SeedTask:
        t0 = time.perf_counter()
        task = agent.run(rec.prompt)
        rec.startup_ms = (time.perf_counter() - t0) * 1000  # the attempt that succeeded
        return task

    def one(rec: RunRecord) -> None:
        try:
            task = _with_backoff(lambda: timed_run(rec), delays, clock)
            rec.created_at = _epoch(task.created_at)
            while task.status not in TERMINAL:
                clock.sleep(SEED_POLL)
                rec.polls += 1
                _with_backoff(task.refresh, delays, clock)
            rec.noticed = rec.ended = clock.now()
            rec.status = task.status
        except httpx.HTTPError as exc:
            code = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
            rec.error, rec.ended = (f"HTTP {code}" if code else type(exc).__name__), clock.now()

    threads = [threading.Thread(target=one, args=(r,), daemon=True) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records, {}


def default_client_cost_ms(samples: int = 20) -> float:
    """CPU milliseconds of one default ``httpx.Client()`` (the seed's per-call cost)."""
    t0 = time.process_time()
    for _ in range(samples):
        httpx.Client().close()
    return (time.process_time() - t0) / samples * 1000


# -- one contender, measured -------------------------------------------------------------------
def run_contender(kind: str, spec: BackendSpec, fleet: Sequence[Any]) -> dict[str, Any]:
    """Run ``fleet`` with contender ``kind`` against the backend of ``spec``; client-side
    measurements only (the server's stats are added by :func:`run_benchmark`)."""
    if kind not in (*CONTENDERS, REFERENCE):
        names = ", ".join((*CONTENDERS, REFERENCE))
        raise ValueError(f"unknown contender {kind!r}; pick one of {names}")
    clock = spec.clock()
    baseline = rss_mb()
    cpu0, t_start = time.process_time(), clock.now()
    if kind == "ours":
        records, extra = _run_ours(spec, fleet)
    else:
        records, extra = _run_seed(spec, fleet, SEED_BACKOFF if kind == "seed+retry" else ())
    cpu = time.process_time() - cpu0
    ends = [r.ended for r in records if not math.isnan(r.ended)]
    detect = [r.noticed - r.completion for r in records if r.ok]
    alive = sum(r.ended - r.created_at for r in records if r.polls)
    polls = sum(r.polls for r in records)
    return {
        "contender": kind,
        "runs": len(records),
        "completed": sum(r.ok for r in records),
        "lost_or_failed": sum(not r.ok for r in records),
        "errors": sorted({r.error for r in records if r.error}),
        "startup_ms_p50": _pct([r.startup_ms for r in records], 0.5),
        "makespan_s": (max(ends) - t_start) if ends else math.nan,
        "ideal_makespan_s": ideal_makespan(
            [d for _, d in fleet], spec.create_limit if spec.rate_limits else (len(fleet), 1.0)
        ),
        "detect_p50_s": _pct(detect, 0.5),
        "detect_p95_s": _pct(detect, 0.95),
        "poll_interval_s": alive / polls if polls else None,
        "cpu_s": cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": rss_mb("VmHWM"),
        **extra,
    }


# -- 1,000 tracked runs ------------------------------------------------------------------------
async def _track(spec: BackendSpec, n: int, window: float) -> dict[str, Any]:
    clock = spec.clock()
    fast = RateBudgets(create=RateBudget(*spec.create_limit))
    async with AsyncCodegenClient(
        TOKEN, ORG_ID, base_url=spec.url, clock=clock, rate_limits=fast
    ) as client:
        await client.agent_runs.list(limit=1)  # the connection and the client's lazy parts
        baseline = rss_mb()
        gate = asyncio.Semaphore(8)

        async def start(i: int) -> Any:
            async with gate:
                return await client.agent_runs.start(f"tracked run {i}")

        runs = await asyncio.gather(*(start(i) for i in range(n)))
        created = rss_mb()
        t_wait = clock.now()
        waits = [asyncio.ensure_future(r.wait(timeout=window)) for r in runs]
        await clock.asleep(window / 2)
        tracking = len(client.watcher.watching)
        waiting = rss_mb()
        outcomes = await asyncio.gather(*waits, return_exceptions=True)
        stats = client.watcher.stats
        return {
            "tracked": n,
            "registered_at_once": tracking,
            "timed_out": sum(isinstance(o, RunTimeoutError) for o in outcomes),
            "baseline_rss_mb": baseline,
            "after_create_rss_mb": created,
            "waiting_rss_mb": waiting,
            "peak_rss_mb": rss_mb("VmHWM"),
            "wait_window_s": window,
            "returned_after_s": clock.now() - t_wait,
            "watcher_ticks": stats.ticks,
            "watcher_list_requests": stats.list_requests,
            "watcher_get_requests": stats.get_requests,
        }


def run_tracking(spec: BackendSpec, n: int, window: float = 20.0) -> dict[str, Any]:
    """RSS of one async client whose watcher tracks ``n`` waiting runs at once."""
    return asyncio.run(_track(spec, n, window))


# -- scaling fleets: many runs, old runs ---------------------------------------------------------
SCALING_FLEETS = {
    # name: (waited runs, newer runs nobody waits for, shortest, longest simulated s)
    "1,000 runs": (1000, 0, 60.0, 180.0),
    "old runs": (150, 300, 60.0, 150.0),
}


def scaling_fleet(name: str, scale_down: int = 1) -> tuple[list[Any], int]:
    """The (prompt, duration) pairs of a scaling fleet and how many newer runs follow it."""
    waited, newer, low, high = SCALING_FLEETS[name]
    return make_fleet(max(1, waited // scale_down), low=low, high=high), newer // scale_down


async def _scaling(spec: BackendSpec, name: str, scale_down: int) -> dict[str, Any]:
    fleet, newer = scaling_fleet(name, scale_down)
    waited, high = len(fleet), SCALING_FLEETS[name][3]
    clock = spec.clock()
    fast = RateBudgets(create=RateBudget(*spec.create_limit))
    async with AsyncCodegenClient(
        TOKEN, ORG_ID, base_url=spec.url, clock=clock, rate_limits=fast
    ) as client:
        gate = asyncio.Semaphore(8)

        async def start(prompt: str) -> Any:
            async with gate:
                return await client.agent_runs.start(prompt)

        runs = await asyncio.gather(*(start(p) for p, _ in fleet))
        for i in range(newer):
            await client.agent_runs.create(f"newer run {i}")  # a day long: never waited
        noticed: dict[int, float] = {}

        async def wait(run: Any) -> None:
            await run.wait(timeout=3 * high)
            noticed[run.id] = clock.now()

        t0 = clock.now()
        await asyncio.gather(*(wait(r) for r in runs))
        t1 = clock.now()
        stats = client.watcher.stats
        spacing = client.watcher._core.spacing
        share = client.watcher._core.share
        budget = client.rate_budgets.budgets
        assert budget is not None
        window = budget.standard.period + budget.standard.margin
    # From the completion, or from the start of the waits for a run that ended while the
    # fleet was still being created (nobody waited for it yet).
    detect = [
        noticed[r.id] - max(t0, _epoch(r.data.created_at) + d)
        for r, (_, d) in zip(runs, fleet, strict=True)
    ]
    pages = math.ceil((waited + newer) / 100)  # the oldest waited run's position
    return {
        "fleet": name,
        "waited": waited,
        "newer": newer,
        "completed": sum(1 for r in runs if r.is_success),
        "detect_p50_s": _pct(detect, 0.5),
        "detect_p95_s": _pct(detect, 0.95),
        "pages_needed": pages,
        "detect_limit_s": 2 * pages * spacing,
        "watcher_ticks": stats.ticks,
        "watcher_list_requests": stats.list_requests,
        "watcher_get_requests": stats.get_requests,
        "wait_s": t1 - t0,
        "share_per_s": share * budget.standard.calls / window,
    }


def run_scaling(spec: BackendSpec, name: str, scale_down: int = 1) -> dict[str, Any]:
    """One scaling fleet (see the module docstring); ``scale_down`` divides its sizes."""
    return asyncio.run(_scaling(spec, name, scale_down))


# -- orchestration -----------------------------------------------------------------------------
def _in_child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one client job in a fresh process; its CPU time and peak RSS are its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--role", "client"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench client {job['kind']} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _client_main(job: dict[str, Any]) -> dict[str, Any]:
    spec = _spec_from(job["spec"])
    if job["kind"] == "tracking":
        return run_tracking(spec, int(job["n"]), float(job["window"]))
    if job["kind"] == "scaling":
        return run_scaling(spec, str(job["name"]), int(job["scale_down"]))
    return run_contender(job["kind"], spec, [tuple(x) for x in job["fleet"]])


def _spec_from(doc: dict[str, Any]) -> BackendSpec:
    return BackendSpec(**{**doc, "create_limit": tuple(doc["create_limit"])})


def _server_numbers(stats: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    requests, limited = stats["requests"], stats["rate_limited"]
    numbers = {
        "status_requests": requests.get("get", 0) + requests.get("list", 0),
        "http_429": sum(limited.values()),
        "create_429": limited.get("create", 0),
        "runs_created": stats["runs_created"],
        "http_calls": sum(requests.values()),
    }
    done = result["completed"]
    numbers["status_per_completed"] = numbers["status_requests"] / done if done else math.nan
    ideal = result["ideal_makespan_s"]
    numbers["makespan_ratio"] = result["makespan_s"] / ideal if ideal else math.nan
    return numbers


def run_benchmark(
    *,
    runs: int = 40,
    time_scale: float = 40.0,
    seed: int = 7,
    low: float = 60.0,
    high: float = 360.0,
    tracked: int = 1000,
    scaling: int = 1,
    scaling_time_scale: float = 10.0,
    contenders: Sequence[str] = CONTENDERS,
    reference: bool = True,
    isolate: bool = True,
) -> dict[str, Any]:
    """The whole benchmark; returns the report :func:`format_report` prints.

    Args:
        runs: fleet size.
        time_scale: simulated seconds per real second, for every backend and client.
        seed: shuffles the fleet's durations.
        low: shortest run, simulated seconds.
        high: longest run, simulated seconds.
        tracked: runs one client tracks at once for the RSS measurement (0: skip).
        scaling: run the scaling fleets at full size (1), divided by this (2, 10...), or
            not at all (0).
        scaling_time_scale: their ``time_scale`` (slower than the fleet's: the backend
            renders 100-run pages, and must keep up with the simulated clock).
        contenders: which of ``ours``, ``seed``, ``seed+retry`` to run.
        reference: also run the seed's loop against a backend without rate limits.
        isolate: run each client and each backend in its own process (``False``: clients in
            this process and backends in its threads, for tests; CPU and RSS then include the
            backends and this process).
    """
    fleet = make_fleet(runs, seed=seed, low=low, high=high)
    durations = dict(fleet)
    epoch, mono0 = time.time(), time.monotonic()

    def spec(**kw: Any) -> BackendSpec:
        return BackendSpec(free_loopback_port(), time_scale, epoch, mono0, **kw)

    # A fresh backend per contender (same behaviour, same clock); all start at once so their
    # imports overlap, and each is stopped as soon as its contender is done.
    threaded = not isolate
    kinds = [*contenders, *([REFERENCE] if reference else [])]
    servers = {
        kind: Server(spec(durations=durations, rate_limits=kind != REFERENCE), in_thread=threaded)
        for kind in kinds
    }
    if tracked:
        # At the scaling fleets' time_scale: at 40, parsing 1,000 expiries and ten 100-run
        # pages on a loaded machine is itself seconds of simulated time.
        fast_create = BackendSpec(
            free_loopback_port(),
            scaling_time_scale,
            epoch,
            mono0,
            create_limit=(max(10, 2 * tracked), 60.0),
        )
        servers["tracking"] = Server(fast_create, in_thread=threaded)
    scaling_specs = {}
    if scaling:
        for name in SCALING_FLEETS:
            scaling_specs[name] = BackendSpec(
                free_loopback_port(),
                scaling_time_scale,
                epoch,
                mono0,
                durations=dict(scaling_fleet(name, scaling)[0]),
                create_limit=(5000, 60.0),
            )
            servers[name] = Server(scaling_specs[name], in_thread=threaded)
    results: list[dict[str, Any]] = []
    tracking: dict[str, Any] | None = None
    scaled: list[dict[str, Any]] = []
    try:
        for kind in kinds:
            server = servers[kind].ready()
            job: dict[str, Any] = {"kind": kind, "spec": asdict(server.spec), "fleet": fleet}
            result = _in_child(job) if isolate else _client_main(job)
            result.update(_server_numbers(server.stats(), result))
            results.append(result)
            server.stop()
        if tracked:
            server = servers["tracking"].ready()
            job = {"kind": "tracking", "spec": asdict(server.spec), "n": tracked, "window": 20.0}
            tracking = _in_child(job) if isolate else _client_main(job)
        for name in scaling_specs:
            server = servers[name].ready()
            before = server.stats()["requests"]
            job = {
                "kind": "scaling",
                "spec": asdict(server.spec),
                "name": name,
                "scale_down": scaling,
            }
            result = _in_child(job) if isolate else _client_main(job)
            after = server.stats()["requests"]
            # Measured at the server: every status read while the fleet waited.
            polls = sum(after.get(k, 0) - before.get(k, 0) for k in ("get", "list"))
            result["server_status_requests"] = polls
            result["measured_per_s"] = polls / result["wait_s"] if result["wait_s"] else math.nan
            scaled.append(result)
            server.stop()
    finally:
        for server in servers.values():
            if server.running:
                server.stop()
    cost = default_client_cost_ms()
    for result in results:
        if result["contender"] != "ours":  # what the seed's default httpx.Client() would add
            result["cpu_s_default_client"] = result["cpu_s"] + result["http_calls"] * cost / 1000
    return {
        "config": {
            "runs": runs,
            "durations_s": [low, high],
            "time_scale": time_scale,
            "seed": seed,
            "create_limit": list(CREATE_LIMIT),
            "standard_limit": list(STANDARD_LIMIT),
            "reference_without_limits": reference,
            "isolated": isolate,
            "polling_reference_requests": sum(math.ceil(d / SEED_POLL) for _, d in fleet),
            "default_httpx_client_cpu_ms": cost,
        },
        "contenders": results,
        "ratios": ratios(results),
        "tracking": tracking,
        "scaling": scaled,
    }


RATIO_KEYS = (
    "startup_ms_p50",
    "makespan_ratio",
    "status_requests",
    "status_per_completed",
    "http_429",
    "lost_or_failed",
    "detect_p50_s",
    "detect_p95_s",
    "cpu_s",
    "peak_rss_mb",
)


def _ratio(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def ratios(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``ours / other`` for each other contender and each metric of :data:`RATIO_KEYS`."""
    by_kind = {r["contender"]: r for r in results}
    ours = by_kind.get("ours")
    if ours is None:
        return {}
    out = {}
    for kind, other in by_kind.items():
        if kind == "ours":
            continue
        row = {k: _ratio(float(ours[k]), float(other[k])) for k in RATIO_KEYS}
        if other["lost_or_failed"] or ours["lost_or_failed"]:
            row["makespan_ratio"] = math.nan  # a fleet that lost runs has no comparable makespan
        out[f"ours/{kind}"] = row
    return out


# -- printing ----------------------------------------------------------------------------------
ROWS = (
    ("startup_ms_p50", "startup: create call -> first status, p50 (real ms)", "{:.1f}"),
    ("makespan_s", "makespan (simulated s)", "{:.0f}"),
    ("ideal_makespan_s", "ideal makespan (create budget + durations)", "{:.0f}"),
    ("makespan_ratio", "makespan / ideal", "{:.3f}"),
    ("status_requests", "status requests (GET run + list, server count)", "{:d}"),
    ("status_per_completed", "  per completed run", "{:.1f}"),
    ("watcher_requests", "  watcher's own count (ticks below)", "{:d}"),
    ("watcher_ticks", "  watcher ticks", "{:d}"),
    ("http_429", "429 responses (all routes)", "{:d}"),
    ("create_429", "  of which on create", "{:d}"),
    ("completed", "runs completed and noticed", "{:d}"),
    ("lost_or_failed", "runs lost or failed", "{:d}"),
    ("detect_p50_s", "detection latency p50 (simulated s)", "{:.2f}"),
    ("detect_p95_s", "detection latency p95 (simulated s)", "{:.2f}"),
    ("poll_interval_s", "seed's achieved poll interval (simulated s)", "{:.2f}"),
    ("cpu_s", "client CPU (s)", "{:.2f}"),
    ("cpu_s_default_client", "  with the seed's default httpx.Client() per call", "{:.2f}"),
    ("baseline_rss_mb", "client RSS before the fleet (MiB)", "{:.1f}"),
    ("peak_rss_mb", "client peak RSS (MiB)", "{:.1f}"),
)


def _fmt(value: Any, pattern: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if "d" in pattern and isinstance(value, float):
        value = round(value)
    return pattern.format(value)


def format_report(report: dict[str, Any]) -> str:
    """The report as Markdown tables (what the command prints)."""
    cfg, results = report["config"], report["contenders"]
    lines = [
        f"fleet: {cfg['runs']} runs of {cfg['durations_s'][0]:g}-{cfg['durations_s'][1]:g} "
        f"simulated s, limits create {cfg['create_limit'][0]}/{cfg['create_limit'][1]:g} s and "
        f"standard {cfg['standard_limit'][0]}/{cfg['standard_limit'][1]:g} s, "
        f"time_scale {cfg['time_scale']:g}, seed {cfg['seed']}",
        f"polling every run every 2 s until it ends would take "
        f"{cfg['polling_reference_requests']} status requests",
        *(
            [
                f"{REFERENCE}: the seed's loop against a backend without rate limits (a reference "
                "for what 2-second polling costs when the API lets it; not a contender)"
            ]
            if cfg.get("reference_without_limits")
            else []
        ),
        "",
        "| metric | " + " | ".join(r["contender"] for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for key, label, pattern in ROWS:
        cells = [_fmt(r.get(key), pattern) for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if report["ratios"]:
        names = list(report["ratios"])
        lines += ["", "| ratio | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for key in RATIO_KEYS:
            cells = [_fmt(report["ratios"][n][key], "{:.3g}") for n in names]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    tracking = report.get("tracking")
    if tracking:
        t = tracking
        lines += [
            "",
            f"tracking {t['tracked']} waiting runs in one client "
            f"({t['registered_at_once']} registered with the watcher at once):",
            f"  RSS before creating: {t['baseline_rss_mb']:.1f} MiB, after creating the "
            f"handles: {t['after_create_rss_mb']:.1f} MiB, while all wait: "
            f"{t['waiting_rss_mb']:.1f} MiB (peak {t['peak_rss_mb']:.1f} MiB)",
            f"  waits with timeout {t['wait_window_s']:g} s returned after "
            f"{t['returned_after_s']:.1f} simulated s ({t['timed_out']} timed out); watcher: "
            f"{t['watcher_ticks']} ticks, {t['watcher_list_requests']} list + "
            f"{t['watcher_get_requests']} single GET requests",
        ]
    for f in report.get("scaling") or []:
        lines += [
            "",
            f"{f['fleet']}: {f['waited']} waited runs behind {f['newer']} newer ones, "
            f"{f['completed']} completed; watcher: {f['watcher_ticks']} ticks, "
            f"{f['watcher_list_requests']} list + {f['watcher_get_requests']} single GET requests",
            f"  detection p50 {f['detect_p50_s']:.2f} s, p95 {f['detect_p95_s']:.2f} s; limit "
            f"{f['detect_limit_s']:.2f} s (2 ticks of {f['pages_needed']} pages)"
            + ("" if f["detect_p95_s"] <= f["detect_limit_s"] else "  ** OVER THE LIMIT **"),
            f"  status requests at the server: {f['server_status_requests']} in "
            f"{f['wait_s']:.0f} s = {f['measured_per_s']:.3f}/s; the watcher's share "
            f"{f['share_per_s']:.3f}/s"
            + ("" if f["measured_per_s"] <= f["share_per_s"] else "  ** OVER THE SHARE **"),
        ]
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="12 runs of 1-3 min, 200 tracked")
    p.add_argument("--runs", type=int, help="fleet size (default 40)")
    p.add_argument("--time-scale", type=float, help="simulated s per real s (default 40)")
    p.add_argument("--seed", type=int, default=7, help="shuffles the durations")
    p.add_argument("--tracked", type=int, help="runs tracked at once for RSS (default 1000)")
    p.add_argument(
        "--scaling",
        type=int,
        help="scaling fleets at full size (1, the default), divided by N, or skipped (0)",
    )
    p.add_argument("--json", type=Path, help="also write the report as JSON here")
    p.add_argument("--role", choices=("server", "client"), help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.role == "server":
        _serve(_spec_from(json.load(sys.stdin)["spec"]))
        return 0
    if args.role == "client":
        print(json.dumps(_client_main(json.load(sys.stdin))))
        return 0
    quick = args.quick
    report = run_benchmark(
        runs=args.runs or (12 if quick else 40),
        time_scale=args.time_scale or (60.0 if quick else 40.0),
        seed=args.seed,
        high=180.0 if quick else 360.0,
        tracked=args.tracked if args.tracked is not None else (200 if quick else 1000),
        scaling=args.scaling if args.scaling is not None else (5 if quick else 1),
    )
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


@contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:  # piping the table into `head`
        os._exit(0)


if __name__ == "__main__":
    with _quiet_broken_pipe():
        sys.exit(main())
