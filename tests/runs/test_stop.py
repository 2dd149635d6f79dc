"""``stop()`` ends a running run ``STOPPED`` (Codegen's ``ban``), sync and async, and a
wait on it ends with it."""

from __future__ import annotations

import threading

import pytest

from codegen_graph.local import LocalCodegen

from .conftest import TimedBehavior


@pytest.fixture
def behavior() -> TimedBehavior:
    return TimedBehavior({"a long task": 10**7})  # it would run for months


def test_stop_ends_a_running_run_and_its_wait(local: LocalCodegen) -> None:
    with local.client() as client:
        run = client.agent_runs.start("a long task")
        waiting: list[str] = []
        waiter = threading.Thread(target=lambda: waiting.append(str(run.wait(timeout=3600).status)))
        waiter.start()
        assert not run.stop().is_success and run.status == "STOPPED"
        waiter.join(timeout=30)
        assert waiting == ["STOPPED"]
        assert client.agent_runs.get(run.id).status == "STOPPED"
        assert client.agent_runs.stop(run.id).status == "STOPPED"  # again: it stays stopped


async def test_async_stop_ends_a_running_run(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        run = await client.agent_runs.start("a long task")
        await run.stop()
        assert run.status == "STOPPED"
        assert (await run.wait(timeout=60)).status == "STOPPED"
