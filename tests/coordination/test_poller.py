"""The shared poller tick by tick, against a real Redis.

The ticks are driven by hand (the watcher's own ``_prepare``/``_finish`` around a stand-in
for the leader's poll), so the tests count ticks: no thread, no sleep, no timing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis

from codegen_graph import CodegenClient, Coordination
from codegen_graph._coordination import CoordinatedRunWatcher
from codegen_graph._watcher import Waiter, wake_all
from codegen_graph.clock import ScaledClock
from codegen_graph.models import AgentRunResponse

#: Real time. The ticks are driven by hand, so a faster clock buys nothing, and it would
#: shrink the lease and the registrations (15 simulated seconds) to a few real milliseconds
#: that a loaded machine overruns between two steps of a test.
SCALE = 1.0
RUN = 5


def _watcher(url: str, prefix: str, *, decode: bool = True) -> CoordinatedRunWatcher:
    """A coordinated watcher; ``decode=False``: on a ``redis_client=`` that reads bytes."""
    shared = (
        Coordination(url, prefix=prefix)
        if decode
        else Coordination(redis_client=redis.Redis.from_url(url), prefix=prefix)
    )
    client = CodegenClient(
        "t", 7, base_url="http://127.0.0.1:9", clock=ScaledClock(SCALE), coordination=shared
    )
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


@pytest.mark.parametrize("decode", [True, False], ids=["text", "bytes"])
def test_followers_wake_in_the_tick_the_leader_publishes(
    redis_url: str, prefix: str, decode: bool
) -> None:
    leader = _watcher(redis_url, prefix, decode=decode)
    follower = _watcher(redis_url, prefix, decode=decode)
    waiter = Waiter(RUN, None)
    follower._core.add(waiter)
    follower._shared.register()  # the follower waits for RUN before any leader tick

    leader_tick(leader, "RUNNING")  # tick 1: the leader's proxy for RUN sees it running
    assert follower_tick(follower) == []
    leader_tick(leader, "COMPLETE")  # tick 2: it sees it finished, and publishes at once
    assert leader.poller.published == 1
    assert follower_tick(follower) == [waiter]  # so the follower wakes in tick 2, not 3
    assert waiter.result is not None and waiter.result.status == "COMPLETE"


# -- what others wrote into our keys ------------------------------------------------------

SECRET = "hunter2-token"


def _raw(watcher: CoordinatedRunWatcher) -> redis.Redis:
    return watcher._shared.link.coordination.redis


def _warnings(caplog: pytest.LogCaptureFixture, key: str) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert not any(SECRET in m for m in messages)  # the value itself never shows
    return [m for m in messages if key in m]


def _leader_and_waiting_follower(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> tuple[CoordinatedRunWatcher, CoordinatedRunWatcher, Waiter]:
    """Two processes' watchers on one org: a leader, and a follower that waits for RUN."""
    caplog.set_level(logging.WARNING, "codegen_graph.coordination")
    leader, follower = _watcher(redis_url, prefix), _watcher(redis_url, prefix)
    waiter = Waiter(RUN, None)
    follower._core.add(waiter)
    follower._shared.register()
    return leader, follower, waiter


def test_malformed_published_states_are_skipped_and_said_once(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    leader, follower, waiter = _leader_and_waiting_follower(redis_url, prefix, caplog)
    leader_tick(leader, "RUNNING")
    assert follower_tick(follower) == []
    key = follower._shared.link.key("state", RUN)
    other_run = {"id": RUN + 1, "organization_id": 7, "status": "COMPLETE"}
    garbage = [
        f"not json {SECRET}",
        json.dumps([1, 2]),
        json.dumps({"tick": "soon", "run": other_run}),
        json.dumps({"tick": 10**6, "run": {"id": RUN, "status": SECRET * 3}}),  # not a run
        json.dumps({"tick": 10**6, "run": other_run}),  # another run's state under ours
        json.dumps({"tick": 10**6}),
    ]
    for value in garbage:
        _raw(follower).set(key, value)
        assert follower_tick(follower) == []  # skipped, nobody woken, nothing raised
        assert not waiter.done
    assert len(_warnings(caplog, key)) == 1  # once, naming the key
    # the normal path goes on: the leader's next publication overwrites it and wakes
    leader_tick(leader, "COMPLETE")
    assert follower_tick(follower) == [waiter]


def test_a_malformed_tick_counter_is_restarted_by_the_leader(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    leader, follower, waiter = _leader_and_waiting_follower(redis_url, prefix, caplog)
    leader_tick(leader, "RUNNING")
    assert follower_tick(follower) == []
    key = follower._shared.link.key("tick")
    _raw(follower).set(key, SECRET)
    assert follower_tick(follower) == []  # the follower skips the unreadable counter
    leader_tick(leader, "COMPLETE")  # the leader restarts it (above every old tick)...
    assert int(_raw(leader).get(key)) > 10**12
    assert follower_tick(follower) == [waiter]  # ...and the follower wakes in the same tick
    said = _warnings(caplog, key)  # once by each (two processes, in real life)
    assert len(said) == 2 and sum("it is reset" in m for m in said) == 1


def test_malformed_watch_members_are_skipped(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    leader, follower, waiter = _leader_and_waiting_follower(redis_url, prefix, caplog)
    key = follower._shared.link.key("watch")
    far = 2**50  # never expires
    _raw(follower).zadd(key, {SECRET: far, f"x{RUN}|{SECRET}": far, "|": far})
    leader_tick(leader, "RUNNING")
    assert follower_tick(follower) == []
    leader_tick(leader, "COMPLETE")  # the leader still polls every run really waited for
    assert set(leader._shared.proxies) == {RUN}
    assert follower_tick(follower) == [waiter]
    assert len(_warnings(caplog, key)) == 1
