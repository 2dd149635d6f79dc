"""The watcher's per-tick hook (how the graph nodes heartbeat): called on every tick while a
wait is registered, never after, and a failing hook does not stop the watcher."""

from __future__ import annotations

from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen


def test_on_tick_is_called_on_every_tick_of_a_wait() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        run = client.agent_runs.start("Add a /health endpoint")
        ticks: list[int] = []
        run.wait(on_tick=lambda: ticks.append(client.watcher.stats.ticks))
        after = len(ticks)
        client.agent_runs.start("Another task").wait()
    assert run.is_terminal
    assert after >= 10  # a one-minute run, a tick about every 0.6 simulated seconds
    assert len(ticks) == after  # the hook belongs to its wait only


def test_a_failing_hook_does_not_stop_the_wait() -> None:
    def broken() -> None:
        raise RuntimeError("hook bug")

    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        run = client.agent_runs.start("Add a /health endpoint").wait(on_tick=broken)
    assert run.status == "COMPLETE"


async def test_async_follow_passes_the_hook_to_the_watcher() -> None:
    with LocalCodegen(clock=ManualClock()) as local:
        async with local.async_client() as client:
            run = await client.agent_runs.start("Add a /health endpoint")
            ticks: list[None] = []
            await run.follow(lambda entry: None, on_tick=lambda: ticks.append(None))
    assert run.is_terminal and len(ticks) >= 10


def test_sync_follow_calls_the_hook_on_each_log_read() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        run = client.agent_runs.start("Add a /health endpoint")
        ticks: list[None] = []
        run.follow(lambda entry: None, on_tick=lambda: ticks.append(None))
    assert run.is_terminal and len(ticks) >= 10
