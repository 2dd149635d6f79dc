"""A run of our own that the API answers for with something that does not match the model
ends its waits with a typed error instead of holding them forever.

The foreign case (someone else's malformed run on a list page) is
``test_foreign_runs_never_stop_a_wait.py``: those are skipped. Our own run cannot be
skipped: its waiters need its state. A wait with no timeout used to poll it for ever, one
failed tick after another; now ``MALFORMED_READS`` malformed answers in a row to its ``GET``
end its waits with :class:`ResponseValidationError` (naming the run, without the bad
values), one bad answer between good ones is forgiven, and the other waits go on. A log
stream (``stream_logs``, ``follow``: the graph nodes' waits) keeps the same count: it used
to end at its first malformed page.
"""

from __future__ import annotations

import asyncio

import pytest

from codegen_graph import ResponseValidationError
from codegen_graph._watch import MALFORMED_READS
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

from ._spoiler import SECRET, Spoiler, async_spoiled_client, spoiled_client

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "a run of our own whose every answer is malformed ends its waits, even one without a "
    "timeout, after three reads with a `ResponseValidationError` that names it without "
    "its values, while the other waits complete; one or two bad answers between good ones "
    "are forgiven, by log streams too; with Redis, processes that only follow the poller's "
    "leader end their waits the same way"
)
TRUST_ALSO = (
    "tests/coordination/test_coordination.py::test_a_run_nobody_can_read_ends_the_followers_waits",
)


def test_a_wait_on_our_own_unreadable_run_ends_with_a_typed_error() -> None:
    spoiler = Spoiler()
    with LocalCodegen(clock=ManualClock()) as local, spoiled_client(local, spoiler) as client:
        run = client.agent_runs.start("task")
        spoiler.bad.add(run.id)
        started = local.clock.now()
        with pytest.raises(ResponseValidationError) as info:
            run.wait(timeout=3600)  # used to end only here, in RunTimeoutError
        waited = local.clock.now() - started
        gets = client.watcher.stats.get_requests
    message = str(info.value)
    assert f"agent run {run.id} could not be read" in message
    assert f"{MALFORMED_READS} answers in a row" in message
    assert SECRET not in message and SECRET not in repr(info.value)
    assert gets >= MALFORMED_READS
    assert waited < 60, waited  # a few ticks, not the timeout


def test_one_bad_answer_between_good_ones_is_forgiven() -> None:
    spoiler = Spoiler(times=MALFORMED_READS - 1)
    with LocalCodegen(clock=ManualClock()) as local, spoiled_client(local, spoiler) as client:
        run = client.agent_runs.start("task")
        spoiler.bad.add(run.id)
        run.wait(timeout=3600)
    assert run.is_success
    assert spoiler.spoiled_gets == MALFORMED_READS - 1


async def test_without_a_timeout_the_wait_ends_and_the_others_go_on() -> None:
    spoiler = Spoiler()
    with LocalCodegen(clock=ManualClock()) as local:
        async with async_spoiled_client(local, spoiler) as client:
            bad, good = [await client.agent_runs.start(f"task {i}") for i in range(2)]
            spoiler.bad.add(bad.id)
            # The real-time guard only keeps a regression from hanging the suite.
            ended = await asyncio.wait_for(
                asyncio.gather(bad.wait(), good.wait(), return_exceptions=True), timeout=60
            )
    assert isinstance(ended[0], ResponseValidationError)
    assert ended[1] is good and good.is_success


def test_a_log_stream_forgives_what_a_wait_forgives() -> None:
    spoiler = Spoiler(times=MALFORMED_READS - 1)  # its first logs pages are malformed
    with LocalCodegen(clock=ManualClock()) as local, spoiled_client(local, spoiler) as client:
        run = client.agent_runs.start("task")
        spoiler.bad.add(run.id)
        entries = list(run.stream_logs(timeout=3600))  # used to raise at the first one
        expected = run.logs()
    assert spoiler.spoiled_gets == MALFORMED_READS - 1
    assert run.is_success
    assert entries == expected and entries


async def test_a_log_stream_on_an_unreadable_run_ends_as_a_wait_does() -> None:
    spoiler = Spoiler()
    seen: list[object] = []
    with LocalCodegen(clock=ManualClock()) as local:
        async with async_spoiled_client(local, spoiler) as client:
            run = await client.agent_runs.start("task")
            spoiler.bad.add(run.id)
            with pytest.raises(ResponseValidationError) as info:
                await asyncio.wait_for(run.follow(seen.append), timeout=60)
    message = str(info.value)
    assert f"agent run {run.id} could not be read" in message
    assert f"{MALFORMED_READS} answers in a row" in message
    assert SECRET not in message and SECRET not in repr(info.value)
    assert spoiler.spoiled_gets == MALFORMED_READS
    assert seen == []
