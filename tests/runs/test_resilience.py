"""A poll failure is not a run failure; timeouts are kept; the watcher scales with positions.

Each test puts a :class:`FaultyTransport` between a client and the local backend (virtual
time on a ManualClock), so the faults are exact: one malformed page, 30 s of 503s, an open
circuit.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from codegen_graph import AsyncAgentRun, AsyncCodegenClient, CodegenClient, RunTimeoutError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.models import AgentRunResponse

from .conftest import AsyncFaultyTransport, FaultyTransport, FleetAPI, TimedBehavior, is_poll

TOKEN = "resilience-token"
HTML = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


def _sync_client(
    local: LocalCodegen, transport: httpx.BaseTransport, **kw: object
) -> CodegenClient:
    return CodegenClient(
        TOKEN, local.org_id, base_url=local.base_url, clock=local.clock, transport=transport, **kw
    )  # type: ignore[arg-type]


def _async_client(
    local: LocalCodegen, transport: httpx.AsyncBaseTransport, **kw: object
) -> AsyncCodegenClient:
    return AsyncCodegenClient(
        TOKEN, local.org_id, base_url=local.base_url, clock=local.clock, transport=transport, **kw
    )  # type: ignore[arg-type]


# -- a poll failure is not a run failure -------------------------------------------------------
def test_one_malformed_list_answer_fails_no_waiter(clock: ManualClock) -> None:
    served = {"html": 0}

    def proxy_page_once(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/agent/runs") and served["html"] == 0:
            served["html"] += 1
            return httpx.Response(200, content=HTML, headers={"content-type": "text/html"})
        return None

    behavior = TimedBehavior({f"task {i}": 30.0 + i for i in range(5)})
    with LocalCodegen(TOKEN, clock=clock, behavior=behavior) as local:
        transport = FaultyTransport(local.transport(), proxy_page_once, clock)
        with _sync_client(local, transport) as client:
            runs = [client.agent_runs.start(f"task {i}") for i in range(5)]
            for run in runs:
                run.wait(timeout=600)
            assert served["html"] == 1
            assert all(run.is_success for run in runs)
            assert client.watcher.stats.errors == 1


async def test_thirty_seconds_of_503s_fail_no_waiter(clock: ManualClock) -> None:
    # Every request fails for 30 simulated seconds: the default circuit breaker opens, the
    # watcher pauses until it half-opens, and every wait ends with its run's outcome.
    behavior = TimedBehavior({f"task {i}": 20.0 + 5 * i for i in range(8)})
    with LocalCodegen(TOKEN, clock=clock, behavior=behavior) as local:
        outage: dict[str, float] = {}

        def outage_503(request: httpx.Request) -> httpx.Response | None:
            start = outage.get("start")
            if start is not None and start <= clock.now() < start + 30.0:
                return httpx.Response(503, json={"message": "Service Unavailable"})
            return None

        transport = AsyncFaultyTransport(local.async_transport(), outage_503, clock)
        async with _async_client(local, transport) as client:
            runs = [await client.agent_runs.start(f"task {i}") for i in range(8)]
            outage["start"] = clock.now() + 5.0
            await asyncio.gather(*(run.wait(timeout=600) for run in runs))
            assert all(run.is_success for run in runs)
            failed = [t for t, m, p in transport.log if outage["start"] <= t < outage["start"] + 30]
            assert failed, "the outage was hit"
            stats = client.watcher.stats
            assert stats.errors >= 5 and stats.paused > 0
            # The breaker opened and the watcher waited for it instead of hammering: far
            # fewer requests in the outage than a tick every 0.65 s would make.
            assert len(failed) < 30 / 0.65 / 2


def test_an_open_circuit_fails_no_waiter_and_is_waited_out(clock: ManualClock) -> None:
    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior()) as local:
        transport = FaultyTransport(local.transport(), lambda _r: None, clock)
        with _sync_client(local, transport) as client:
            run = client.agent_runs.start("short")
            breaker = client.circuit
            for _ in range(breaker.config.failure_threshold):  # type: ignore[union-attr]
                breaker.record(_server_error())
            assert breaker.state == "open"
            opened = clock.now()
            run.wait(timeout=600)
            assert run.is_success
            polls = [t for t, m, p in transport.log if m == "GET" and t >= opened]
            # Nothing was sent while the circuit was open (30 s cooldown).
            assert polls and min(polls) >= opened + breaker.config.cooldown  # type: ignore[union-attr]
            assert client.watcher.stats.paused >= 29


def _server_error() -> Exception:
    from codegen_graph import ServerError

    return ServerError("boom", status_code=503)


def test_a_404_fails_only_its_own_waiter_and_a_401_everyone(clock: ManualClock) -> None:
    from codegen_graph import AuthenticationError, NotFoundError

    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior({"long": 3600})) as local:
        deny = {"on": False}

        def rule(request: httpx.Request) -> httpx.Response | None:
            if deny["on"] and is_poll(request):
                return httpx.Response(401, json={"message": "Invalid token"})
            return None

        transport = FaultyTransport(local.transport(), rule, clock)
        with _sync_client(local, transport) as client:
            ghost = client.agent_runs.attach(
                AgentRunResponse(id=9_999_999, organization_id=local.org_id, status="ACTIVE")
            )
            with pytest.raises(NotFoundError):
                ghost.wait(timeout=60)
            run = client.agent_runs.start("long")
            deny["on"] = True
            with pytest.raises(AuthenticationError):
                run.wait(timeout=600)


# -- timeouts are kept ------------------------------------------------------------------------
def _fleet_client(api: FleetAPI, clock: ManualClock) -> AsyncCodegenClient:
    return AsyncCodegenClient(
        TOKEN, api.org_id, base_url="https://fleet.test", clock=clock, transport=api.transport()
    )


def _handles(client: AsyncCodegenClient, ids: list[int]) -> list[AsyncAgentRun]:
    return [
        AsyncAgentRun(client, AgentRunResponse(id=i, organization_id=1, status="ACTIVE"))
        for i in ids
    ]


async def test_wait_timeout_20_among_1000_waiters_returns_by_21_seconds(
    clock: ManualClock,
) -> None:
    api = FleetAPI(clock)
    ids = [api.add(finish_at=clock.now() + 86_400) for _ in range(1000)]
    async with _fleet_client(api, clock) as client:
        returned: list[float] = []

        async def wait(run: AsyncAgentRun) -> None:
            started = clock.now()
            with pytest.raises(RunTimeoutError):
                await run.wait(timeout=20)
            returned.append(clock.now() - started)

        await asyncio.gather(*(wait(r) for r in _handles(client, ids)))
        assert len(returned) == 1000
        assert min(returned) >= 20.0 and max(returned) <= 21.0, (min(returned), max(returned))


async def test_a_deadline_interrupts_a_long_tick_of_single_gets(clock: ManualClock) -> None:
    # 120 waited runs, none on the list (another user's view, say): a tick of 120 single
    # GETs, 0.65 s apart (78 s). Waits with timeout 5 expire between those requests.
    api = FleetAPI(clock)
    ids = [api.add(finish_at=clock.now() + 86_400) for _ in range(120)]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/agent/runs"):
            return httpx.Response(
                200, json={"items": [], "total": 0, "page": 1, "size": 100, "pages": 0}
            )
        return api.handle(request)

    async with AsyncCodegenClient(
        TOKEN, 1, base_url="https://fleet.test", clock=clock, transport=httpx.MockTransport(handle)
    ) as client:
        started = clock.now()
        outcomes = await asyncio.gather(
            *(r.wait(timeout=5) for r in _handles(client, ids)), return_exceptions=True
        )
        assert all(isinstance(o, RunTimeoutError) for o in outcomes)
        assert clock.now() - started <= 6.0
        assert client.watcher.stats.get_requests < 20


# -- the watcher scales with positions ---------------------------------------------------------
async def test_150_runs_behind_300_newer_detected_within_two_ticks_within_share(
    clock: ManualClock,
) -> None:
    api = FleetAPI(clock)
    t0 = clock.now()
    old = [api.add(finish_at=t0 + 60.0 + 0.5 * i) for i in range(150)]
    for _ in range(300):
        api.add(finish_at=t0 + 86_400)
    async with _fleet_client(api, clock) as client:
        noticed: dict[int, float] = {}

        async def wait(run: AsyncAgentRun) -> None:
            await run.wait(timeout=3600)
            noticed[run.id] = clock.now()

        handles = _handles(client, old)
        await asyncio.gather(*(wait(r) for r in handles))
        t1 = clock.now()
        watcher = client.watcher
        assert all(r.is_success and r.result for r in handles)
        # Positions 300-449: five pages hold them all. The tick is five paced requests.
        pages_needed = 5
        tick = pages_needed * watcher._core.spacing
        latency = [noticed[i] - api.finish[i] for i in old]
        assert min(latency) >= 0
        assert max(latency) <= 2 * tick, (max(latency), tick)
        stats = watcher.stats
        assert stats.requests <= pages_needed * stats.ticks  # never more than the pages
        # Measured, not computed: the watcher's requests in any window of the budget (31 s
        # with the margin) stay within its 80% share of 60, and so does the mean rate.
        polls = [t for t, _path, _skip in api.log]
        budget = client.rate_budgets.budgets
        assert budget is not None
        window = budget.standard.period + budget.standard.margin
        share = watcher._core.share * budget.standard.calls
        worst = max(sum(1 for u in polls if t <= u < t + window) for t in polls)
        assert worst <= share, (worst, share)
        assert len(polls) / (t1 - t0) <= share / window * 1.02


async def test_cost_per_tick_is_bounded_by_the_oldest_runs_position(clock: ManualClock) -> None:
    # One waited run at position 250, one brand new and one at position 5,000: a tick
    # reads at most ceil(251 / 100) = 3 pages (the old one is cheaper by a single GET)...
    api = FleetAPI(clock)
    t0 = clock.now()
    ancient = api.add(finish_at=t0 + 40.0)
    for _ in range(4749):
        api.add(finish_at=t0 + 86_400)
    old = api.add(finish_at=t0 + 40.0)
    for _ in range(249):
        api.add(finish_at=t0 + 86_400)
    new = api.add(finish_at=t0 + 40.0)
    async with _fleet_client(api, clock) as client:
        handles = _handles(client, [ancient, old, new])
        await asyncio.gather(*(r.wait(timeout=600) for r in handles))
        stats = client.watcher.stats
        assert all(r.is_success for r in handles)
        # ... plus the runs not found there (the ancient one), and never deeper.
        assert stats.list_requests <= 3 * stats.ticks
        assert stats.requests <= (3 + 1) * stats.ticks
        skips = [skip for _t, path, skip in api.log if path.endswith("/agent/runs")]
        assert len(skips) == stats.list_requests and max(skips) <= 200


# -- quiet by default ---------------------------------------------------------------------------
def test_retries_and_failed_polls_log_below_warning(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = {"n": 0}

    def every_third_503(request: httpx.Request) -> httpx.Response | None:
        flaky["n"] += 1
        return httpx.Response(503) if flaky["n"] % 3 == 0 else None

    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior()) as local:
        transport = FaultyTransport(local.transport(), every_third_503, clock)
        with (
            caplog.at_level(logging.DEBUG, logger="codegen_graph"),
            _sync_client(local, transport) as client,
        ):
            runs = [client.agent_runs.start(f"t {i}") for i in range(3)]
            for run in runs:
                run.wait(timeout=600)
        assert any("retry" in r.getMessage() for r in caplog.records)
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- complete handles -------------------------------------------------------------------------
def test_stream_logs_leaves_result_and_pull_requests_set(clock: ManualClock) -> None:
    with LocalCodegen(TOKEN, clock=clock) as local:
        transport = FaultyTransport(local.transport(), lambda _r: None, clock)
        with _sync_client(local, transport) as client:
            run = client.agent_runs.start("Implement a /health endpoint")
            kinds = [entry.message_type for entry in run.stream_logs(timeout=3600)]
            assert kinds[-1] == "FINAL_ANSWER"
            assert run.is_terminal and run.is_success
            assert run.result and run.pull_requests and run.pr_urls
            sent = len(transport.log)
            assert run.wait() is run and len(transport.log) == sent  # complete: no request


async def test_async_stream_logs_leaves_result_and_pull_requests_set(clock: ManualClock) -> None:
    with LocalCodegen(TOKEN, clock=clock) as local:
        transport = AsyncFaultyTransport(local.async_transport(), lambda _r: None, clock)
        async with _async_client(local, transport) as client:
            run = await client.agent_runs.start("Implement a /health endpoint")
            async for _entry in run.stream_logs():
                pass
            assert run.result and run.pull_requests


def test_a_handle_terminal_from_logs_alone_is_completed_by_wait(clock: ManualClock) -> None:
    with LocalCodegen(TOKEN, clock=clock) as local, local.client() as client:
        run = client.agent_runs.start("Implement a /health endpoint")
        clock.advance(3600)  # the run ends meanwhile
        run._from_logs(client.agent_runs.logs(run.id))  # what a stream's last page does
        assert run.is_terminal and not run.pull_requests
        assert run.wait().pull_requests


def test_stream_logs_rides_out_an_outage_of_the_logs_endpoint(clock: ManualClock) -> None:
    outage: dict[str, float] = {}

    def logs_down(request: httpx.Request) -> httpx.Response | None:
        start = outage.get("start")
        if start is not None and "/logs" in request.url.path and clock.now() < start + 20:
            return httpx.Response(503, json={"message": "Service Unavailable"})
        return None

    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior()) as local:
        transport = FaultyTransport(local.transport(), logs_down, clock)
        with _sync_client(local, transport) as client:
            run = client.agent_runs.start("stream through an outage")
            outage["start"] = clock.now()
            kinds = [e.message_type for e in run.stream_logs(timeout=600)]
            assert kinds == ["PLAN_EVALUATION", "ACTION", "ACTION", "FINAL_ANSWER"]
            assert run.is_success and run.result


def test_a_log_stream_keeps_its_timeout_through_long_retry_afters(clock: ManualClock) -> None:
    """429s with ``Retry-After: 60`` on the logs read: ``follow(timeout=5)`` slept through
    the client's own retries of the read (two of 60 s) and ended after 120 s, while
    ``wait(timeout=5)`` ended after 5. The stream reads without retries and pauses itself,
    so its deadline holds; with a longer timeout it rides the 429s out."""
    busy = {"until": clock.now() + 100}

    def slow_down(request: httpx.Request) -> httpx.Response | None:
        if clock.now() < busy["until"] and "/logs" in request.url.path:
            return httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "60"})
        return None

    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior()) as local:
        transport = FaultyTransport(local.transport(), slow_down, clock)
        with _sync_client(local, transport) as client:
            run = client.agent_runs.start("task")
            started = clock.now()
            with pytest.raises(RunTimeoutError) as info:
                run.follow(lambda entry: None, timeout=5)
            assert clock.now() - started <= 5 + 1
            assert info.value.run is not None and info.value.run.id == run.id
            reads = sum(path.endswith("/logs") for _, _, path in transport.log)
            assert reads == 1  # no retry slept past the deadline
            entries = list(run.stream_logs(timeout=600))  # through 95 s more of 429s
    assert len(entries) == 4 and run.is_success


# -- batches keep going -----------------------------------------------------------------------
def test_run_many_rides_out_an_outage_with_the_default_breaker(clock: ManualClock) -> None:
    # 60 s in which every create is answered 503 or dropped after being processed: the
    # default breaker opens, items pause until it half-opens, keys keep them unique.
    from codegen_graph.local import Faults, RouteFaults

    faults = Faults(routes={"create": RouteFaults(drop_rate=0.3)}, seed=5)
    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior(), faults=faults) as local:
        outage: dict[str, float] = {"start": clock.now() + 30.0}

        def creates_down(request: httpx.Request) -> httpx.Response | None:
            start = outage["start"]
            if request.method == "POST" and start <= clock.now() < start + 60:
                return httpx.Response(503, json={"message": "Service Unavailable"})
            return None

        transport = FaultyTransport(local.transport(), creates_down, clock)
        with _sync_client(local, transport) as client:
            items = client.agent_runs.run_many([f"item {i}" for i in range(14)], concurrency=4)
            assert all(it.ok for it in items), [it.error for it in items if it.error]
            stats = local.stats()
        assert stats["runs_total"] == 14 and stats["duplicates"] == 0
        assert stats["faults"]["create"]["drop"] >= 1
        assert any(outage["start"] <= t < outage["start"] + 60 for t, m, _ in transport.log)


async def test_run_many_gives_up_at_its_own_deadline_not_before(clock: ManualClock) -> None:
    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior()) as local:

        def creates_down(request: httpx.Request) -> httpx.Response | None:
            return httpx.Response(503) if request.method == "POST" else None

        transport = AsyncFaultyTransport(local.async_transport(), creates_down, clock)
        async with _async_client(local, transport) as client:
            started = clock.now()
            # (one item: on a ManualClock concurrent sleepers add up their sleeps)
            items = await client.agent_runs.run_many(["a"], timeout=300)
            ended = clock.now()
        assert all(it.run is None and it.error is not None for it in items)
        assert all(it.error.is_transient for it in items)  # type: ignore[union-attr]
        creates = [t for t, m, _ in transport.log if m == "POST"]
        assert max(creates) - started > 200  # it kept trying...
        # ...until its deadline (plus the client's own retries of the last attempt)
        assert ended - started <= 300 + 8  # max_delay


def test_run_many_reports_what_a_retry_cannot_fix_at_once(clock: ManualClock) -> None:
    from codegen_graph import AgentRunLimitReachedError

    backend = LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior(), quota=1)
    with backend as local, local.client() as client:
        started = clock.now()
        items = client.agent_runs.run_many(["one", "two"], concurrency=1)
        assert items[0].ok
        assert isinstance(items[1].error, AgentRunLimitReachedError)
        assert clock.now() - started < 120


def test_a_keyed_start_waits_out_an_open_circuit_an_interactive_call_fails_fast(
    clock: ManualClock,
) -> None:
    from codegen_graph import CircuitOpenError

    with LocalCodegen(TOKEN, clock=clock, behavior=TimedBehavior()) as local:
        transport = FaultyTransport(local.transport(), lambda _r: None, clock)
        with _sync_client(local, transport) as client:
            breaker = client.circuit
            for _ in range(breaker.config.failure_threshold):  # type: ignore[union-attr]
                breaker.record(_server_error())
            opened = clock.now()
            with pytest.raises(CircuitOpenError):
                client.agent_runs.list()  # interactive: fails fast, as documented
            with pytest.raises(CircuitOpenError):
                client.agent_runs.start("no key")  # unkeyed: an interactive call too
            run = client.agent_runs.start("keyed", idempotency_key="keyed-1")
            assert clock.now() >= opened + breaker.config.cooldown  # type: ignore[union-attr]
            assert run.wait().is_success
            assert local.stats()["runs_total"] == 1
