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
    "logs nothing at WARNING; a log stream (`follow`) closed while its read is being "
    "retried ends with `ClientClosedError` too"
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


@pytest.mark.parametrize("rounds", [1, 5, 20, 50])
async def test_aclose_while_a_log_read_is_retried_ends_the_stream_with_a_typed_error(
    rounds: int,
) -> None:
    """The client's retries of one logs read pause between sends: a close during such a
    pause used to end ``follow()`` with httpx's bare ``RuntimeError`` (the pool closed),
    which no caller of a codegen-graph API expects. ``rounds`` event-loop rounds after the
    first failed read, the client closes."""
    clock = ManualClock()
    failed = asyncio.Event()

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/logs"):
            failed.set()
            return httpx.Response(503, json={"detail": "down"})
        return None

    with LocalCodegen(clock=clock) as local:
        transport = AsyncFaultyTransport(local.async_transport(), rule, clock)
        client = AsyncCodegenClient(
            local.token, local.org_id, base_url=local.base_url, clock=clock, transport=transport
        )
        run = await client.agent_runs.start("task")
        task = asyncio.ensure_future(run.follow(lambda entry: None, timeout=3600))
        await asyncio.wait_for(failed.wait(), 60)  # real-time guard against a hang
        for _ in range(rounds):
            await asyncio.sleep(0)
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(task, 60)
