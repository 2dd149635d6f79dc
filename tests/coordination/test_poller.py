"""The shared poller tick by tick, against a real Redis.

The ticks are driven by hand (the watcher's own poll source and ``_lead``/``_follow``, with
a stand-in for the leader's HTTP poll), so the tests count ticks: no thread, no sleep, no
timing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis

from codegen_graph import CodegenClient, Coordination
from codegen_graph._coordination import SharedPoller
from codegen_graph._shared import Turn
from codegen_graph._sync.watcher import RunWatcher
from codegen_graph._watch import Waiter, wake_all
from codegen_graph.clock import ScaledClock
from codegen_graph.models import AgentRunResponse

#: Real time. The ticks are driven by hand, so a faster clock buys nothing, and it would
#: shrink the lease and the registrations (15 simulated seconds) to a few real milliseconds
#: that a loaded machine overruns between two steps of a test.
SCALE = 1.0
RUN = 5


def _watcher(url: str, prefix: str, *, decode: bool = True) -> RunWatcher:
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
    assert isinstance(watcher._source, SharedPoller)
    return watcher


def _poller(watcher: RunWatcher) -> SharedPoller:
    assert isinstance(watcher._source, SharedPoller)
    return watcher._source


def _run(status: str) -> AgentRunResponse:
    return AgentRunResponse.model_validate({"id": RUN, "organization_id": 7, "status": status})


def leader_tick(leader: RunWatcher, status: str) -> Turn:
    """One leader tick whose poll finds run ``RUN`` in ``status``."""
    source = _poller(leader)
    turn = source.turn(leader._core.watched(), 5.0)
    assert turn.role == "leader"

    def poll() -> int:  # the stand-in for the HTTP poll
        wake_all(leader._core.apply([_run(status)], leader._core.start_tick()))
        return 1

    leader._poll = poll  # type: ignore[method-assign]
    leader._lead(source, turn.remote)
    source.finish(turn.role)
    return turn


def follower_tick(follower: RunWatcher) -> list[Any]:
    """One follower tick without its idle wait; returns the waiters it woke."""
    source = _poller(follower)
    turn = source.turn(follower._core.watched(), 5.0)
    assert turn.role == "follower"
    got = source.follow(follower._core.start_tick(), sorted(follower._core.watched()))
    assert got is not None
    woken = []
    for _run_id, tick, run in got:
        assert run is not None
        woken += follower._core.apply([run], tick)
    source.finish(turn.role)
    return woken


@pytest.mark.parametrize("decode", [True, False], ids=["text", "bytes"])
def test_followers_wake_in_the_tick_the_leader_publishes(
    redis_url: str, prefix: str, decode: bool
) -> None:
    leader = _watcher(redis_url, prefix, decode=decode)
    follower = _watcher(redis_url, prefix, decode=decode)
    waiter = Waiter(RUN, None)
    follower._core.add(waiter)
    _poller(follower).local = {RUN}
    _poller(follower).register()  # the follower waits for RUN before any leader tick

    leader_tick(leader, "RUNNING")  # tick 1: the leader's proxy for RUN sees it running
    assert follower_tick(follower) == []
    leader_tick(leader, "COMPLETE")  # tick 2: it sees it finished, and publishes at once
    assert leader.poller.published == 1
    assert follower_tick(follower) == [waiter]  # so the follower wakes in tick 2, not 3
    assert waiter.result is not None and waiter.result.status == "COMPLETE"


# -- what others wrote into our keys ------------------------------------------------------

SECRET = "hunter2-token"


def _raw(watcher: RunWatcher) -> redis.Redis:
    return _poller(watcher).link.coordination.redis


def _warnings(caplog: pytest.LogCaptureFixture, key: str) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert not any(SECRET in m for m in messages)  # the value itself never shows
    return [m for m in messages if key in m]


def _leader_and_waiting_follower(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> tuple[RunWatcher, RunWatcher, Waiter]:
    """Two processes' watchers on one org: a leader, and a follower that waits for RUN."""
    caplog.set_level(logging.WARNING, "codegen_graph.coordination")
    leader, follower = _watcher(redis_url, prefix), _watcher(redis_url, prefix)
    waiter = Waiter(RUN, None)
    follower._core.add(waiter)
    _poller(follower).local = {RUN}
    _poller(follower).register()
    return leader, follower, waiter


def test_malformed_published_states_are_skipped_and_said_once(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    leader, follower, waiter = _leader_and_waiting_follower(redis_url, prefix, caplog)
    leader_tick(leader, "RUNNING")
    assert follower_tick(follower) == []
    key = _poller(follower).link.key("state", RUN)
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
    key = _poller(follower).link.key("tick")
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
    key = _poller(follower).link.key("watch")
    far = 2**50  # never expires
    _raw(follower).zadd(key, {SECRET: far, f"x{RUN}|{SECRET}": far, "|": far})
    leader_tick(leader, "RUNNING")
    assert follower_tick(follower) == []
    turn = leader_tick(leader, "COMPLETE")  # the leader still polls every run really waited for
    assert set(turn.remote) == {RUN}
    assert follower_tick(follower) == [waiter]
    assert len(_warnings(caplog, key)) == 1
