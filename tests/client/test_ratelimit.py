"""Client-side budgets: pure limiter, routing, and 100 concurrent calls never over budget."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient, RateBudget, RateBudgets
from codegen_graph._ratelimit import UNLIMITED, RateLimiter, bucket_for
from codegen_graph.clock import ManualClock, ScaledClock

from ._fake_api import ORG_ID, TOKEN, FakeCodegenAPI, Recorded


def max_in_window(times: list[float], period: float) -> int:
    """The most timestamps in any half-open window [t, t + period)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class TimelineClock:
    """Virtual time where every thread / task has its own timeline.

    ``sleep(d)`` moves only the caller's time forward by exactly ``d``; the fake API's
    handler runs in the caller's context and so stamps the request with the time the caller
    reached. This is a perfect scheduler: what is measured is the client's reservations
    under real contention (100 threads or tasks racing for the limiter's lock), not noise.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._t = contextvars.ContextVar("t", default=start)

    def now(self) -> float:
        return self._t.get()

    def sleep(self, seconds: float) -> None:
        self._t.set(self._t.get() + max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


def test_routing() -> None:
    assert bucket_for("POST", f"/v1/organizations/{ORG_ID}/agent/run") == "create"
    assert bucket_for("POST", f"/v1/organizations/{ORG_ID}/agent/run/resume") == "standard"
    assert bucket_for("GET", f"/v1/organizations/{ORG_ID}/agent/run/3") == "standard"
    assert bucket_for("GET", f"/v1/alpha/organizations/{ORG_ID}/agent/run/3/logs") == "logs"
    assert bucket_for("GET", "/v1/users/me") == "standard"


def test_limiter_core() -> None:
    clock = ManualClock(start=0.0)
    lim = RateLimiter(RateBudgets(create=RateBudget(3, 60.0)), clock)
    assert [lim.reserve("create") for _ in range(7)] == [0, 0, 0, 60, 60, 60, 120]
    assert lim.remaining("create") == 0
    assert lim.next_free_at("create") == 120
    assert lim.remaining("standard") == 60
    assert lim.next_free_at("standard") == 0
    assert lim.remaining("create", now=185.0) == 3
    lim.hold("logs", until=30.0)
    assert lim.remaining("logs") == 0
    assert lim.reserve("logs") == 30.0
    off = RateLimiter(None, clock)
    assert not off.enabled
    assert off.reserve("create") == 0.0
    assert off.remaining("create") == UNLIMITED


def test_eleventh_create_waits_a_window(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client()
    for i in range(11):
        client.agent_runs.create(f"task {i}")
    assert clock.sleeps == [61.0]  # the window plus the 1-second latency margin
    assert max_in_window([r.at for r in api.requests], 61.0) == 10
    assert client.rate_budgets.remaining("create") == 9


def test_rate_limits_false_never_waits(make_client: Callable[..., CodegenClient], clock) -> None:
    client = make_client(rate_limits=False)
    for i in range(30):
        client.agent_runs.create(f"task {i}")
    assert clock.sleeps == []


BUDGETS = RateBudgets(
    create=RateBudget(10, 60.0), standard=RateBudget(60, 30.0), logs=RateBudget(60, 60.0)
)


def _check(requests: list[Recorded]) -> None:
    creates = [r.at for r in requests if r.method == "POST"]
    gets = [r.at for r in requests if r.method == "GET" and "/alpha/" not in r.path]
    logs = [r.at for r in requests if "/alpha/" in r.path]
    assert max_in_window(creates, 60.0) == 10
    assert max_in_window(gets, 30.0) == 60
    assert max_in_window(logs, 60.0) == 60


def test_100_concurrent_threads_stay_within_budget() -> None:
    clock = TimelineClock()
    api = FakeCodegenAPI(clock=clock)  # type: ignore[arg-type]
    run_id = api.add_run()["id"]
    with CodegenClient(
        TOKEN, ORG_ID, transport=api.transport(), clock=clock, rate_limits=BUDGETS
    ) as client:
        calls = [lambda i=i: client.agent_runs.create(f"t{i}") for i in range(100)]
        calls += [lambda: client.agent_runs.get(run_id) for _ in range(100)]
        calls += [lambda: client.agent_runs.logs(run_id) for _ in range(100)]
        with ThreadPoolExecutor(max_workers=100) as pool:
            for f in [pool.submit(contextvars.copy_context().run, c) for c in calls]:
                f.result()
    assert len(api.requests) == 300
    _check(api.requests)
    assert max(r.at for r in api.requests if r.method == "POST") - 1_000.0 == 540.0


async def test_100_concurrent_tasks_stay_within_budget() -> None:
    clock = TimelineClock()
    api = FakeCodegenAPI(clock=clock)  # type: ignore[arg-type]
    run_id = api.add_run()["id"]
    async with AsyncCodegenClient(
        TOKEN, ORG_ID, transport=api.transport(), clock=clock, rate_limits=BUDGETS
    ) as client:
        await asyncio.gather(
            *(client.agent_runs.create(f"t{i}") for i in range(100)),
            *(client.agent_runs.get(run_id) for _ in range(100)),
            *(client.agent_runs.logs(run_id) for _ in range(100)),
        )
    assert len(api.requests) == 300
    _check(api.requests)


@pytest.mark.timeout(30)
async def test_scaled_clock_takes_at_least_the_budgeted_time() -> None:
    # Real waiting on a fast clock: 100 calls at 10 per simulated second need >= 9 s.
    clock = ScaledClock(scale=50.0)
    api = FakeCodegenAPI(clock=clock)
    budgets = RateBudgets(standard=RateBudget(10, 1.0))
    async with AsyncCodegenClient(
        TOKEN, ORG_ID, transport=api.transport(), clock=clock, rate_limits=budgets
    ) as client:
        start = clock.now()
        await asyncio.gather(*(client.users.me() for _ in range(100)))
    times = sorted(r.at for r in api.requests)
    assert len(times) == 100
    assert times[-1] - start >= 9.0
    assert times[10] - start >= 1.0  # the 11th waited a whole window
