"""The shared poller tick by tick, against a real Redis.

The ticks are driven by hand (the watcher's own ``_prepare``/``_finish`` around a stand-in
for the leader's poll), so the tests count ticks: no thread, no sleep, no timing.
"""

from __future__ import annotations

from typing import Any

from codegen_graph import CodegenClient, Coordination
from codegen_graph._coordination import CoordinatedRunWatcher
from codegen_graph._watcher import Waiter, wake_all
from codegen_graph.clock import ScaledClock
from codegen_graph.models import AgentRunResponse

SCALE = 200.0
RUN = 5


def _watcher(url: str, prefix: str) -> CoordinatedRunWatcher:
    client = CodegenClient(
        "t", 7, base_url="http://127.0.0.1:9", clock=ScaledClock(SCALE),
        coordination=Coordination(url, prefix=prefix),
    )  # fmt: skip
    watcher = client.watcher
    assert isinstance(watcher, CoordinatedRunWatcher)
    return watcher


def _run(status: str) -> AgentRunResponse:
    return AgentRunResponse.model_validate({"id": RUN, "organization_id": 7, "status": status})


def leader_tick(leader: CoordinatedRunWatcher, status: str) -> None:
    """One leader tick whose poll finds run ``RUN`` in ``status``."""
    role = leader._prepare()
    assert role == "leader"
    tick = leader._core.start_tick()
    wake_all(leader._core.apply([_run(status)], tick))
    leader._finish(role)


def follower_tick(follower: CoordinatedRunWatcher) -> list[Any]:
    """One follower tick without its idle wait; returns the waiters it woke."""
    role = follower._prepare()
    assert role == "follower"
    read = follower._follower_read()
    assert read is not None
    tick, ids, now_shared, states = read
    woken, failed = follower._shared.follow(tick, now_shared, ids, states)
    assert failed == []
    follower._finish(role)
    return woken


def test_followers_wake_in_the_tick_the_leader_publishes(redis_url: str, prefix: str) -> None:
    leader, follower = _watcher(redis_url, prefix), _watcher(redis_url, prefix)
    waiter = Waiter(RUN, None)
    follower._core.add(waiter)
    follower._shared.register()  # the follower waits for RUN before any leader tick

    leader_tick(leader, "RUNNING")  # tick 1: the leader's proxy for RUN sees it running
    assert follower_tick(follower) == []
    leader_tick(leader, "COMPLETE")  # tick 2: it sees it finished, and publishes at once
    assert leader.poller.published == 1
    assert follower_tick(follower) == [waiter]  # so the follower wakes in tick 2, not 3
    assert waiter.result is not None and waiter.result.status == "COMPLETE"
