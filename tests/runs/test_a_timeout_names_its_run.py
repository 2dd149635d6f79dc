"""A wait's timeout names its run and its last known state, even when the deadline passes
before the watcher has read the run once.

Found under load: ``codegen-graph runs wait ID --timeout 5`` printed the hint "wait again
with: codegen-graph runs wait ID" (the word, not the number) and "last status: unknown",
because the timeout error carried only what the watcher had read, and its first read had
not come back yet. The handle knew the run all along.
"""

from __future__ import annotations

import pytest

from codegen_graph import RunTimeoutError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

from ._spoiler import Spoiler, async_spoiled_client, spoiled_client


def test_a_timeout_before_the_first_read_carries_the_handles_state() -> None:
    spoiler = Spoiler(times=2)  # the watcher's first two reads fail, a third would not
    with LocalCodegen(clock=ManualClock()) as local, spoiled_client(local, spoiler) as client:
        run = client.agent_runs.start("task")
        spoiler.bad.add(run.id)
        with pytest.raises(RunTimeoutError) as info:
            run.wait(timeout=1)
    assert client.watcher.latest(run.id) is None  # the deadline came before any good read
    assert info.value.run is not None and info.value.run.id == run.id
    assert info.value.run.status == run.status
    assert f"last status: {run.status}" in str(info.value)


async def test_an_async_timeout_before_the_first_read_carries_the_handles_state() -> None:
    spoiler = Spoiler(times=2)
    with LocalCodegen(clock=ManualClock()) as local:
        async with async_spoiled_client(local, spoiler) as client:
            run = await client.agent_runs.start("task")
            spoiler.bad.add(run.id)
            with pytest.raises(RunTimeoutError) as info:
                await run.wait(timeout=1)
            assert client.watcher.latest(run.id) is None
    assert info.value.run is not None and info.value.run.id == run.id
    assert f"last status: {run.status}" in str(info.value)
