"""Closing a client is an ending: its waits end at once with ClientClosedError, its watcher
stops, and later calls fail fast (issue 21, case 5: a wait hung forever while the watcher
polled the closed pool with a WARNING and a traceback every few seconds)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import httpx
import pytest

from codegen_graph import AsyncCodegenClient, ClientClosedError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

from .conftest import AsyncFaultyTransport

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "`close()` during a sync wait and `aclose()` during an async one end the wait at once "
    "with `ClientClosedError`, stop the watcher, and later calls fail fast; the sync one "
    "logs nothing at WARNING; a call closed while its retries pause ends with "
    "`ClientClosedError` too"
)

#: Simulated seconds per real second: a run of 60 simulated seconds takes 60 real ms.
SCALE = 1000.0


def test_close_during_a_sync_wait_ends_it_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "codegen_graph")
    with LocalCodegen(time_scale=SCALE) as local:
        client = local.client()
        run = client.agent_runs.start("a long task")
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                run.wait(timeout=10 * 86_400)  # ten simulated days: only close ends it
            except BaseException as exc:
                errors.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        while run.id not in client.watcher.watching:  # wait for the condition, not for luck
            time.sleep(0.001)
        client.close()
        waiter.join(timeout=5)
        assert not waiter.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], ClientClosedError), errors
        runner = client.watcher._runner._thread
        if runner is not None:
            runner.join(timeout=5)
        assert client.watcher._runner._thread is None  # the watcher stopped
        with pytest.raises(ClientClosedError):
            client.agent_runs.get(run.id)  # later calls fail fast
        with pytest.raises(ClientClosedError):
            run.wait()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_aclose_during_an_async_wait_ends_it_at_once() -> None:
    with LocalCodegen(time_scale=SCALE) as local:
        client = local.async_client()
        run = await client.agent_runs.start("a long task")
        waiting = asyncio.create_task(run.wait(timeout=10 * 86_400))
        while run.id not in client.watcher.watching:
            await asyncio.sleep(0)
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(waiting, timeout=5)
        for _ in range(100):  # the watcher's task ends at its next slice
            if client.watcher._runner._task is None:
                break
            await asyncio.sleep(0.01)
        assert client.watcher._runner._task is None
        with pytest.raises(ClientClosedError):
            await run.wait()


class _GateClock(ManualClock):
    """A manual clock whose async sleeps, once armed, wait until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.sleeping, self.go = asyncio.Event(), asyncio.Event()

    async def asleep(self, seconds: float) -> None:
        if self.armed:
            self.sleeping.set()
            await self.go.wait()
        await super().asleep(seconds)


async def test_aclose_during_a_calls_retry_pause_ends_it_with_a_typed_error() -> None:
    """A call whose retries pause between sends (``refresh()`` under 503s) when the client
    closed sent again on the closed pool and ended with httpx's bare ``RuntimeError``,
    which no caller of a codegen-graph API expects."""
    clock = _GateClock()
    state = {"run": -1}

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith(f"/agent/run/{state['run']}"):
            return httpx.Response(503, json={"detail": "down"})
        return None

    with LocalCodegen(clock=clock) as local:
        transport = AsyncFaultyTransport(local.async_transport(), rule, clock)
        client = AsyncCodegenClient(
            local.token, local.org_id, base_url=local.base_url, clock=clock, transport=transport
        )
        run = await client.agent_runs.start("task")
        state["run"], clock.armed = run.id, True
        task = asyncio.ensure_future(run.refresh())
        await asyncio.wait_for(clock.sleeping.wait(), 60)  # its first retry's pause
        await client.aclose()
        clock.go.set()
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(task, 60)  # real-time guard against a hang
