"""Chaos: a fleet of agent runs and the feature workflow under injected faults.

Every contender talks to its own fresh local backend (:class:`codegen_graph.local.LocalCodegen`,
in process, same seed, same faults) that injects, on every route:

* 20% ``503`` answers, 10% dropped connections (the request *was* processed),
* ``429`` storms with ``Retry-After`` (every request in two windows of simulated time),
* latency spikes (5% of requests wait 20 simulated seconds),
* and on ``create`` also accept-then-timeout (10%: the run is created, the answer never comes).

Contenders, each given the same 50 prompts (``--quick``: 20; ``--runs N``):

* ``ours`` (the headline): ``LocalCodegen(...).client()`` with **the library defaults** (2
  retries, ``Retry-After`` honoured, the default circuit breaker, duplicate-free create,
  batched watcher) and ``client.agent_runs.run_many(prompts, key_prefix=...)``;
* ``seed``: the seed SDK's loop - one thread per prompt: POST the create, then GET the run
  every 2 s until it is terminal; no retries, so the first error ends that prompt;
* ``ours/custom``, only with ``--max-retries`` or ``--breaker``: ours with those settings.

Then the feature workflow (code -> tests + docs in parallel -> feedback loop -> report) runs
once on a faulty backend with the default client and
:func:`codegen_graph.graph.codegen_retry_policy`.

Time is a :class:`~codegen_graph.clock.ManualClock` shared by client and backend: sleeping advances
it at once, so backoffs, ``Retry-After`` waits, run durations, rate windows, storms and
latency spikes all happen in simulated time and a full run takes seconds of real time, with
the same fault dice on every rerun. (A ``ScaledClock`` over a real socket would add nothing
to what is measured here - the faults are injected above HTTP either way - and 50 seed
threads polling every 2 simulated seconds would need the two shared cores.)

Definitions: a run is *lost* when the caller never learned a terminal outcome for its prompt
(no run, or the id or the outcome never reached it). *Duplicates* are from the backend:
``stats()["duplicates"]`` (runs sharing an idempotency key) plus runs the backend holds
beyond one per prompt (``runs_total - requested``; for the seed these are orphans, created by
a request whose answer was lost). *Surfaced* errors are exceptions that reached the caller;
*transient* ones are those retrying could have fixed (429, 408, 409, 5xx, connection errors,
timeouts, an open circuit).

Usage::

    python tools/chaos.py              # 50-run fleets + the workflow
    python tools/chaos.py --quick      # 20-run fleets
    python tools/chaos.py --runs 500   # the large fleet (a few minutes of CPU)
    python tools/chaos.py --json out.json

Exit status 1 when a target is missed: 0 lost, 0 duplicates, >= 90% fewer surfaced
transient failures than the seed's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from codegen_graph import CircuitBreakerConfig, CodegenError
from codegen_graph.clock import ManualClock
from codegen_graph.local import Faults, LocalCodegen, Outcome, RouteFaults, Step

SEED_POLL = 2.0  # the seed polls each run every 2 s
#: ``--breaker tuned``: a breaker that opens later and cools down sooner than the default
#: (5 consecutive transient failures, 30 s), for the ``ours/custom`` column.
CHAOS_BREAKER = CircuitBreakerConfig(failure_threshold=10, cooldown=5.0)
TERMINAL = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
TARGET_REDUCTION = 0.90
TASK = "Add a /health endpoint that returns the service version"


# -- the faults --------------------------------------------------------------------------------
def chaos_faults(seed: int = 7) -> Faults:
    """The injected faults: 20% 503, 10% drops, 429 storms, latency spikes; create also
    times out after accepting 10% of the time."""
    storms = ((90.0, 30.0), (420.0, 45.0))  # simulated seconds since the backend started
    common: dict[str, Any] = dict(
        error_rate=0.20,
        error_status=503,
        drop_rate=0.10,
        latency=20.0,
        latency_rate=0.05,
        storms=storms,
    )
    return Faults(
        routes={"*": RouteFaults(**common), "create": RouteFaults(**common, timeout_rate=0.10)},
        seed=seed,
    )


def describe_faults(faults: Faults) -> dict[str, Any]:
    """The faults as JSON data, for the report."""
    return {"seed": faults.seed, **{r: asdict(f) for r, f in faults.routes.items()}}


# -- the fleet ---------------------------------------------------------------------------------
class FleetBehavior:
    """Run ``i`` of the fleet completes after 60 + 6*i simulated seconds (1 to 6 minutes)."""

    def plan(self, ctx: Any) -> Outcome:
        index = int(ctx.prompt.rsplit(" ", 1)[-1]) if ctx.prompt[-1:].isdigit() else 0
        return Outcome(
            status="COMPLETE",
            result=f"done: {ctx.prompt}",
            steps=(Step("PLAN_EVALUATION", thought="plan"),),
            duration=60.0 + 6.0 * (index % 50),
        )


def fleet_prompts(n: int) -> list[str]:
    return [f"chaos fleet task {i}" for i in range(n)]


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later could have fixed this error."""
    if isinstance(exc, CodegenError):
        return exc.is_transient
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code in (408, 409, 429) or code >= 500
    return isinstance(exc, httpx.TransportError)


@dataclass
class FleetResult:
    """One contender's numbers."""

    contender: str
    requested: int
    completed: int = 0
    lost: int = 0
    duplicates: int = 0
    runs_total: int = 0
    orphans: int = 0
    surfaced: int = 0
    surfaced_transient: int = 0
    surfaced_by_kind: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    rate_limited: int = 0
    simulated_s: float = 0.0
    real_s: float = 0.0
    config: str = ""


def _fill_from_backend(result: FleetResult, backend: LocalCodegen, t0: float) -> None:
    stats = backend.stats()
    result.runs_total = stats["runs_total"]
    result.duplicates = stats["duplicates"] + max(0, stats["runs_total"] - result.requested)
    result.requests = sum(stats["requests"].values())
    result.rate_limited = sum(stats["rate_limited"].values())
    kinds: Counter[str] = Counter()
    for per_route in stats["faults"].values():
        kinds.update(per_route)
    result.injected = dict(sorted(kinds.items()))
    result.simulated_s = round(backend.clock.now() - t0, 1)


def _record_errors(result: FleetResult, errors: Sequence[BaseException]) -> None:
    result.surfaced = len(errors)
    result.surfaced_transient = sum(1 for e in errors if is_transient(e))
    result.surfaced_by_kind = dict(sorted(Counter(_kind(e) for e in errors).items()))


def _kind(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def client_settings(
    *, max_retries: int | None = None, breaker: str | None = None
) -> dict[str, Any]:
    """Our client's keyword arguments: ``{}`` (the library defaults), or the overrides given
    (``breaker``: ``"default"``, ``"off"`` or ``"tuned"``)."""
    settings: dict[str, Any] = {}
    if max_retries is not None:
        settings["max_retries"] = max_retries
    if breaker is not None:
        choices: dict[str, CircuitBreakerConfig | bool] = {
            "default": True,
            "off": False,
            "tuned": CHAOS_BREAKER,
        }
        settings["circuit_breaker"] = choices[breaker]
    return settings


def _describe(settings: dict[str, Any]) -> str:
    breaker = settings.get("circuit_breaker", True)
    if breaker is True:
        breaker = CircuitBreakerConfig()
    text = (
        "off"
        if breaker is False
        else f"{breaker.failure_threshold} failures/{breaker.cooldown:g} s"
    )
    origin = "library defaults: " if not settings else ""
    return f"{origin}max_retries={settings.get('max_retries', 2)}, circuit breaker {text}"


def run_ours(
    prompts: Sequence[str], *, seed: int = 7, settings: dict[str, Any] | None = None
) -> FleetResult:
    """The fleet through ``run_many(key_prefix=...)`` with the library defaults (or with
    ``settings``: the ``ours/custom`` column)."""
    clock = ManualClock()
    settings = settings or {}
    result = FleetResult(
        "ours/custom" if settings else "ours", len(prompts), config=_describe(settings)
    )
    started = time.perf_counter()
    with LocalCodegen(clock=clock, behavior=FleetBehavior(), faults=chaos_faults(seed)) as local:
        t0 = clock.now()
        with local.client(**settings) as client:
            items = client.agent_runs.run_many(prompts, key_prefix="chaos")
        errors = [it.error for it in items if it.error is not None]
        ids = {it.run.id for it in items if it.run is not None}
        known = [it for it in items if it.error is None and it.run is not None]
        result.completed = sum(1 for it in known if it.run is not None and it.run.is_terminal)
        result.lost = len(prompts) - result.completed
        _record_errors(result, errors)
        _fill_from_backend(result, local, t0)
        result.orphans = result.runs_total - len(ids)
    result.real_s = round(time.perf_counter() - started, 2)
    return result


def run_seed(prompts: Sequence[str], *, seed: int = 7) -> FleetResult:
    """The seed SDK's loop: a thread per prompt, create then GET every 2 s, no retries."""
    clock = ManualClock()
    result = FleetResult("seed", len(prompts), config="create + GET every 2 s, no retries")
    started = time.perf_counter()
    errors: list[BaseException] = []
    outcomes: list[str | None] = [None] * len(prompts)
    ids: set[int] = set()
    lock = threading.Lock()
    with LocalCodegen(clock=clock, behavior=FleetBehavior(), faults=chaos_faults(seed)) as local:
        t0 = clock.now()
        base = f"/v1/organizations/{local.org_id}/agent/run"
        with local.httpx_client(timeout=60) as http:

            def one(i: int, prompt: str) -> None:
                try:
                    r = http.post(base, json={"prompt": prompt})
                    r.raise_for_status()
                    run = r.json()
                    with lock:
                        ids.add(run["id"])
                    while run["status"] not in TERMINAL:
                        clock.sleep(SEED_POLL)
                        r = http.get(f"{base}/{run['id']}")
                        r.raise_for_status()
                        run = r.json()
                    outcomes[i] = run["status"]
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    with lock:
                        errors.append(exc)

            threads = [
                threading.Thread(target=one, args=(i, p), daemon=True)
                for i, p in enumerate(prompts)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        result.completed = sum(1 for o in outcomes if o is not None)
        result.lost = len(prompts) - result.completed
        _record_errors(result, errors)
        _fill_from_backend(result, local, t0)
        result.orphans = result.runs_total - len(ids)
    result.real_s = round(time.perf_counter() - started, 2)
    return result


# -- the feature workflow ----------------------------------------------------------------------
async def _workflow(seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.memory import InMemorySaver

    from codegen_graph.graph import codegen_retry_policy, feature_workflow

    clock = ManualClock()
    started = time.perf_counter()
    report: dict[str, Any] = {"verdict": None, "error": None}
    with LocalCodegen(clock=clock, faults=chaos_faults(seed), scenario="tests_fail_once") as local:
        async with local.async_client(**settings) as client:
            policy = codegen_retry_policy(initial_interval=0.001, jitter=False)
            graph = feature_workflow(client=client, retry_policy=policy).compile(
                checkpointer=InMemorySaver()
            )
            config: RunnableConfig = {"configurable": {"thread_id": "chaos"}}
            try:
                await graph.ainvoke({"task": TASK}, config, durability="sync")
                values = (await graph.aget_state(config)).values
                report["verdict"] = values["report"]["verdict"]
                report["iterations"] = values["report"].get("iterations", {})
            except Exception as exc:
                report["error"] = f"{type(exc).__name__}: {exc}"
        stats = local.stats()
    kinds: Counter[str] = Counter()
    for per_route in stats["faults"].values():
        kinds.update(per_route)
    report.update(
        runs_created=stats["runs_created"],
        runs_resumed=stats["runs_resumed"],
        runs_total=stats["runs_total"],
        duplicates=stats["duplicates"],
        requests=sum(stats["requests"].values()),
        injected=dict(sorted(kinds.items())),
        real_s=round(time.perf_counter() - started, 2),
    )
    return report


def run_workflow(seed: int = 7, *, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The feature workflow once under the chaos faults; its report and backend stats."""
    return asyncio.run(_workflow(seed, settings or {}))


# -- the report --------------------------------------------------------------------------------
def reduction(ours: FleetResult, seed: FleetResult) -> float:
    """``1 - ours/seed`` of surfaced transient failures (1.0 when the seed surfaced none
    and neither did we)."""
    if seed.surfaced_transient == 0:
        return 1.0 if ours.surfaced_transient == 0 else 0.0
    return 1.0 - ours.surfaced_transient / seed.surfaced_transient


def check_targets(ours: FleetResult, seed: FleetResult, workflow: dict[str, Any]) -> list[str]:
    """The targets missed (empty: all met)."""
    missed = []
    if ours.lost:
        missed.append(f"ours lost {ours.lost} run(s); target 0")
    if ours.duplicates:
        missed.append(f"ours created {ours.duplicates} duplicate run(s); target 0")
    if reduction(ours, seed) < TARGET_REDUCTION:
        missed.append(
            f"surfaced transient failures cut by {reduction(ours, seed):.0%}; target >= 90%"
        )
    if workflow.get("verdict") != "passed":
        missed.append(f"feature workflow did not pass: {workflow.get('error')}")
    if workflow.get("duplicates"):
        missed.append(f"feature workflow created {workflow['duplicates']} duplicate run(s)")
    return missed


ROWS = (
    ("runs requested", "requested"),
    ("runs completed", "completed"),
    ("runs lost", "lost"),
    ("duplicate runs created", "duplicates"),
    ("runs on the backend", "runs_total"),
    ("orphans (created, id never reached the caller)", "orphans"),
    ("errors surfaced to the caller", "surfaced"),
    ("... of them transient", "surfaced_transient"),
    ("HTTP requests", "requests"),
    ("429 answers", "rate_limited"),
    ("simulated seconds", "simulated_s"),
    ("real seconds", "real_s"),
)


def format_report(report: dict[str, Any]) -> str:
    """The report as Markdown (the table docs/reliability.md shows)."""
    names = list(report["fleets"])
    cols = [report["fleets"][c] for c in names]
    lines = ["| metric | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(cols)]
    for label, key in ROWS:
        lines.append(f"| {label} | " + " | ".join(str(c[key]) for c in cols) + " |")
    lines.append(
        "| errors by type | " + " | ".join(_kinds(c["surfaced_by_kind"]) for c in cols) + " |"
    )
    lines.append("| faults injected | " + " | ".join(_kinds(c["injected"]) for c in cols) + " |")
    lines.append("")
    red = report["reduction"]
    lines.append(
        "Reduction in surfaced transient failures (1 - ours/seed): "
        + ", ".join(f"{name} {value:.1%}" for name, value in red.items())
    )
    for name in red:
        lines.append(f"{name}: run_many(key_prefix=...), {report['fleets'][name]['config']}")
    wf = report["workflow"]
    lines.append(
        f"Feature workflow under the same faults (ours, library defaults): "
        f"verdict {wf['verdict']}, "
        f"{wf['runs_created']} runs created, {wf['runs_resumed']} resumed, "
        f"{wf['duplicates']} duplicates, {wf['requests']} requests, "
        f"faults {_kinds(wf['injected'])}" + (f", error {wf['error']}" if wf["error"] else "")
    )
    missed = report["missed"]
    lines.append("Targets met." if not missed else "TARGETS MISSED: " + "; ".join(missed))
    return "\n".join(lines)


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def run_chaos(
    runs: int = 50, *, seed: int = 7, max_retries: int | None = None, breaker: str | None = None
) -> dict[str, Any]:
    """The fleets and the workflow; the report as JSON data. The targets are checked on
    ``ours``, the library defaults."""
    prompts = fleet_prompts(runs)
    ours = run_ours(prompts, seed=seed)
    base = run_seed(prompts, seed=seed)
    fleets = [ours, base]
    custom = client_settings(max_retries=max_retries, breaker=breaker)
    if custom:
        fleets.insert(1, run_ours(prompts, seed=seed, settings=custom))
    workflow = run_workflow(seed)
    return {
        "command": None,
        "faults": describe_faults(chaos_faults(seed)),
        "fleets": {r.contender: asdict(r) for r in fleets},
        "reduction": {r.contender: reduction(r, base) for r in fleets if r is not base},
        "workflow": workflow,
        "missed": check_targets(ours, base, workflow),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20-run fleets instead of 50")
    parser.add_argument("--runs", type=int, default=None, help="fleet size (overrides --quick)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fault dice")
    parser.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="also run an ours/custom column with this max_retries (library default: 2)",
    )
    parser.add_argument(
        "--breaker",
        choices=("tuned", "default", "off"),
        default=None,
        help="also run an ours/custom column with this circuit breaker: tuned (10 "
        "failures, 5 s), the library default (5 failures, 30 s) or off",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument(
        "--verbose", action="store_true", help="show the clients' retry logs (INFO)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    runs = args.runs if args.runs is not None else (20 if args.quick else 50)
    if runs < 1:
        parser.error("--runs must be >= 1")
    report = run_chaos(runs, seed=args.seed, max_retries=args.max_retries, breaker=args.breaker)
    report["command"] = "python tools/chaos.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 1 if report["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
