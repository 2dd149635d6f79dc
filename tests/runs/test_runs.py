"""Run handles, the batched watcher, log streaming and batches, on the local backend."""

from __future__ import annotations

import asyncio
import math
import threading
from datetime import datetime

import pytest

from codegen_graph import (
    AgentRunFailedError,
    AgentRunStatus,
    AsyncCodegenClient,
    ConfigurationError,
    NotFoundError,
    RateBudget,
    RateBudgets,
    RunTimeoutError,
)
from codegen_graph.clock import ManualClock, ScaledClock
from codegen_graph.local import LocalCodegen, RateLimit, RateLimits
from codegen_graph.models import AgentRunResponse

from .conftest import TimedBehavior


def _epoch(stamp: str | None) -> float:
    assert stamp is not None
    return datetime.fromisoformat(stamp).timestamp()


def _rate_limited(local: LocalCodegen) -> int:
    return sum(local.stats()["rate_limited"].values())


def test_create_and_wait_sync(local: LocalCodegen) -> None:
    with local.client() as client:
        run = client.agent_runs.create_and_wait("Add a /health endpoint")
        assert run.status == AgentRunStatus.COMPLETE
        assert run.is_terminal and run.is_success
        assert run.result == "done: Add a /health endpoint (segment 1)"
        assert run.summary == "summary of segment 1"
        assert run.web_url
        assert [e.message_type for e in run.logs()] == [
            "PLAN_EVALUATION",
            "ACTION",
            "ACTION",
            "FINAL_ANSWER",
        ]
        assert repr(run) == f"AgentRun(id={run.id}, status='COMPLETE')"


async def test_create_and_wait_async(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        run = await client.agent_runs.create_and_wait("Add a /health endpoint")
        assert run.is_success
        assert len(await run.logs()) == 4
        again = await client.agent_runs.attach(run.id)
        assert again.status == "completed"  # documented lowercase spelling matches too


def test_pull_requests_from_the_default_behaviour(clock: ManualClock) -> None:
    with LocalCodegen(clock=clock) as local, local.client() as client:
        run = client.agent_runs.create_and_wait("Implement a /health endpoint")
        assert run.is_success
        assert run.pull_requests and run.pr_urls
        assert run.pull_requests[0].head_branch_name


def test_wait_timeout_carries_the_last_run_and_the_run_goes_on(
    local: LocalCodegen, behavior: TimedBehavior
) -> None:
    behavior.durations["slow"] = 600.0
    with local.client() as client:
        run = client.agent_runs.start("slow")
        with pytest.raises(RunTimeoutError) as info:
            run.wait(timeout=30)
        assert info.value.run is not None and info.value.run.id == run.id
        assert not info.value.run.status.is_terminal  # type: ignore[union-attr]
        assert "did not finish in time" in str(info.value)
        assert run.wait().is_success  # the remote run went on


async def test_async_wait_timeout(local: LocalCodegen, behavior: TimedBehavior) -> None:
    behavior.durations["slow"] = 600.0
    async with local.async_client() as client:
        run = await client.agent_runs.start("slow")
        with pytest.raises(RunTimeoutError):
            await run.wait(timeout=5)
        assert (await run.wait()).is_success


def test_raise_on_failure(local: LocalCodegen) -> None:
    with local.client() as client:
        run = client.agent_runs.create_and_wait("please fail")
        assert run.status == "FAILED" and not run.is_success  # no raise by default
        with pytest.raises(AgentRunFailedError) as info:
            client.agent_runs.create_and_wait("fail again", raise_on_failure=True)
        assert info.value.run is not None and info.value.run.status == "FAILED"
        assert "ended FAILED" in str(info.value)


def test_negative_timeout_is_refused(local: LocalCodegen) -> None:
    with local.client() as client:
        run = client.agent_runs.start("x")
        with pytest.raises(ValueError, match="timeout"):
            run.wait(timeout=-1)


async def test_hundred_concurrent_waits(clock: ManualClock) -> None:
    """100 waits: zero 429s, <= 1/10 of 2-second polling, p95 latency <= 1.5 ticks.

    Creates are let through quickly (the create budget is not under test here) so that all
    100 runs are in flight together; the standard budget, which waiting spends, is the
    documented one on both sides.
    """
    behavior = TimedBehavior({f"task {i}": 30.0 + 1.0 * i for i in range(100)})
    fast_create = RateLimits(create=RateLimit(1000, 60))
    with LocalCodegen(clock=clock, behavior=behavior, rate_limits=fast_create) as local:
        async with local.async_client(
            rate_limits=RateBudgets(create=RateBudget(1000, 60))
        ) as client:
            await _hundred_waits(local, client, clock)


async def _hundred_waits(
    local: LocalCodegen, client: AsyncCodegenClient, clock: ManualClock
) -> None:
    runs = [await client.agent_runs.start(f"task {i}") for i in range(100)]
    t0 = clock.now()
    returned: dict[int, float] = {}

    async def wait(run: object) -> None:
        await run.wait()  # type: ignore[attr-defined]
        returned[run.id] = clock.now()  # type: ignore[attr-defined]

    await asyncio.gather(*(wait(r) for r in runs))
    watcher = client.watcher
    assert all(r.is_success for r in runs)
    assert _rate_limited(local) == 0

    finished: dict[int, float] = {}
    for run in runs:
        last = await client.agent_runs.logs(run.id, reverse=True, limit=1)
        finished[run.id] = _epoch(last.logs[0].created_at)
    assert all(f > t0 for f in finished.values()), "every run was still going at t0"

    polling = sum(math.ceil((finished[i] - t0) / 2.0) for i in finished)
    assert watcher.stats.requests * 10 <= polling, (watcher.stats.requests, polling)

    latencies = sorted(returned[i] - finished[i] for i in finished)
    assert latencies[0] >= 0
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    tick = watcher._core.interval(1)
    assert p95 <= 1.5 * tick, (p95, tick)


def test_watcher_stops_polling_when_nobody_waits(local: LocalCodegen) -> None:
    with local.client() as client:
        client.agent_runs.create_and_wait("one")
        thread = client.watcher._runner._thread
        if thread is not None:
            thread.join(timeout=5)
        ticks = client.watcher.stats.ticks
        assert client.watcher._runner._thread is None
        assert client.watcher.watching == set()
        assert client.watcher.stats.ticks == ticks


async def test_notify_wakes_a_waiter_at_once() -> None:
    # Real-time clock at scale 1 with a run of a simulated day: only notify() can end it.
    with LocalCodegen(clock=ScaledClock(1.0), behavior=TimedBehavior({"day": 86_400})) as local:
        async with local.async_client() as client:
            run = await client.agent_runs.start("day")
            waiting = asyncio.ensure_future(run.wait())
            await asyncio.sleep(0)
            done = AgentRunResponse(id=run.id, organization_id=local.org_id, status="COMPLETE")
            client.watcher.notify(done)
            finished = await asyncio.wait_for(waiting, timeout=5)
            assert finished.status == "COMPLETE"
            assert client.watcher.stats.notified == 1


def _signature(entry: object) -> tuple[object, ...]:
    e = entry  # AgentRunLogResponse
    return (e.created_at, e.message_type, e.thought, e.tool_name)  # type: ignore[attr-defined]


def test_stream_logs_exactly_once_across_a_resume(local: LocalCodegen) -> None:
    with local.client() as client:
        run = client.agent_runs.start("stream me")
        seen = []
        for entry in run.stream_logs():
            seen.append(entry)
            if len(seen) == 2:
                run.resume("also do this")
        everything = run.logs()
        assert [_signature(e) for e in seen] == [_signature(e) for e in everything]
        assert len({_signature(e) for e in seen}) == len(seen)
        kinds = [e.message_type for e in seen]
        assert "USER_MESSAGE" in kinds
        assert kinds[-1] == "FINAL_ANSWER"
        assert run.is_terminal


async def test_async_stream_logs_exactly_once_across_a_resume(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        run = await client.agent_runs.start("stream me")
        seen = []
        async for entry in run.stream_logs():
            seen.append(entry)
            if len(seen) == 1:
                await run.resume("and this")
        everything = await run.logs()
        assert [_signature(e) for e in seen] == [_signature(e) for e in everything]
        assert [e.message_type for e in seen].count("USER_MESSAGE") == 1


def test_stream_logs_timeout(local: LocalCodegen, behavior: TimedBehavior) -> None:
    behavior.durations["slow"] = 3600.0
    with local.client() as client:
        run = client.agent_runs.start("slow")
        with pytest.raises(RunTimeoutError):
            list(run.stream_logs(timeout=30))


async def test_follow_delivers_every_entry_then_the_final_state(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        run = await client.agent_runs.start("follow me")
        got: list[str | None] = []
        await run.follow(lambda e: got.append(e.message_type))
        assert got == ["PLAN_EVALUATION", "ACTION", "ACTION", "FINAL_ANSWER"]
        assert run.summary == "summary of segment 1"  # refreshed from GET, not logs


def test_run_many_in_order_with_per_item_failures(local: LocalCodegen) -> None:
    progress: list[tuple[int, int]] = []
    prompts = [f"item {i}" for i in range(12)] + ["", "item fail"]
    with local.client() as client:
        items = client.agent_runs.run_many(
            prompts, concurrency=4, on_progress=lambda p: progress.append((p.done, p.total))
        )
    assert [it.prompt for it in items] == prompts
    assert [it.index for it in items] == list(range(len(prompts)))
    assert all(it.ok for it in items[:12])
    assert isinstance(items[12].error, ConfigurationError) and items[12].run is None
    assert items[13].error is None and items[13].run is not None
    assert items[13].run.status == "FAILED" and not items[13].ok
    assert sorted(progress) == [(n, len(prompts)) for n in range(1, len(prompts) + 1)]
    assert _rate_limited(local) == 0  # 13 creates spread under the 10-per-minute budget
    assert local.stats()["runs_created"] == 13


async def test_run_many_async_and_rerun_without_duplicates(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        first = await client.agent_runs.run_many(["a", "b", "c"], key_prefix="batch-1")
        again = await client.agent_runs.run_many(["a", "b", "c"], key_prefix="batch-1")
    assert [i.run.id for i in first] != []  # type: ignore[union-attr]
    assert all(i.ok for i in first + again)
    assert local.stats()["duplicates"] == 0


async def test_sync_api_inside_a_running_event_loop(local: LocalCodegen) -> None:
    # What Jupyter does: a loop is already running in this thread.
    assert asyncio.get_running_loop().is_running()
    with local.client() as client:
        run = client.agent_runs.create_and_wait("from a notebook")
        assert run.is_success
        assert threading.active_count() >= 1


def test_wait_after_a_resume_waits_for_the_new_round(local: LocalCodegen) -> None:
    # The watcher saw the run COMPLETE; after a resume through the resource (not the
    # handle), a new wait must not return that stale state.
    with local.client() as client:
        first = client.agent_runs.create_and_wait("round one")
        assert first.is_success
        resumed = client.agent_runs.resume(first.id, "round two")
        assert not resumed.status.is_terminal  # type: ignore[union-attr]
        again = client.agent_runs.attach(resumed).wait()
        assert again.is_success
        assert again.result == "done: round two (segment 2)"


async def test_async_wait_after_a_resume_waits_for_the_new_round(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        first = await client.agent_runs.create_and_wait("round one")
        resumed = await client.agent_runs.resume(first.id, "round two")
        again = await (await client.agent_runs.attach(resumed)).wait()
        assert again.result == "done: round two (segment 2)"


async def test_an_unknown_run_fails_only_its_own_waiters(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        real = await client.agent_runs.start("a real run")
        ghost = AgentRunResponse(id=424_242, organization_id=local.org_id, status="ACTIVE")
        fake = await client.agent_runs.attach(ghost)
        outcomes = await asyncio.gather(real.wait(), fake.wait(), return_exceptions=True)
        assert outcomes[0] is real and real.is_success
        assert isinstance(outcomes[1], NotFoundError)


async def test_follow_surfaces_a_failing_callback_at_once(
    local: LocalCodegen, behavior: TimedBehavior, clock: ManualClock
) -> None:
    # The first entry comes a quarter into an hour-long run; the callback's error must
    # surface then, not when the run ends.
    behavior.durations["long"] = 3600.0
    async with local.async_client() as client:
        run = await client.agent_runs.start("long")

        def broken(entry: object) -> None:
            raise KeyError("bug in the callback")

        started = clock.now()
        with pytest.raises(KeyError):
            await run.follow(broken)
        assert clock.now() - started < 3600 * 0.75
        assert not (await run.refresh()).is_terminal
