"""The watcher's decisions, on their own: batching, paging, intervals, deadlines."""

from __future__ import annotations

from codegen_graph._exceptions import RunTimeoutError
from codegen_graph._watcher import _Waiter, _WatchCore
from codegen_graph.models import AgentRunResponse, Page


def _core(**kw: object) -> _WatchCore:
    options: dict[str, object] = dict(
        budget=(60, 30.0),
        share=0.8,
        min_interval=0.25,
        max_interval=30.0,
        page_size=100,
        max_pages=3,
    )
    options.update(kw)
    return _WatchCore(**options)  # type: ignore[arg-type]


def _run(run_id: int, status: str) -> AgentRunResponse:
    return AgentRunResponse(id=run_id, organization_id=1, status=status)


def _page(ids: range, total: int) -> Page[AgentRunResponse]:
    items = [_run(i, "ACTIVE") for i in ids]
    return Page[AgentRunResponse](
        items=items, total=total, page=1, size=100, pages=-(-total // 100)
    )


def test_interval_follows_the_standard_budget() -> None:
    core = _core()
    # 60 calls per 30 s at an 80% share: 0.625 s per request.
    assert core.interval(1) == 0.625
    assert core.interval(4) == 2.5
    assert core.interval(0) == 0.625  # an idle tick still costs a slot's worth
    assert _core(min_interval=1.0).interval(1) == 1.0
    assert _core(max_interval=2.0).interval(100) == 2.0


def test_terminal_run_wakes_its_waiters_only() -> None:
    core = _core()
    a, b = _Waiter(1, None), _Waiter(2, None)
    core.add(a)
    core.add(b)
    woken = core.apply([_run(1, "COMPLETE"), _run(2, "RUNNING")])
    assert woken == [a]
    assert a.result is not None and a.result.status == "COMPLETE"
    assert not b.done
    assert core.watched() == {2}


def test_a_known_terminal_state_is_not_trusted_for_a_new_waiter() -> None:
    # The run may have been resumed since it was seen COMPLETE: ask the API again.
    core = _core()
    core.apply([_run(5, "failed")])
    w = _Waiter(5, None)
    core.add(w)
    assert not w.done and core.watched() == {5}


def test_a_tick_started_before_the_waiter_cannot_wake_it() -> None:
    core = _core()
    old_tick = core.start_tick()  # a tick in flight when the run is resumed
    w = _Waiter(5, None)
    core.add(w)
    assert core.apply([_run(5, "COMPLETE")], old_tick) == []  # stale: keep waiting
    assert not w.done
    new_tick = core.start_tick()
    assert core.apply([_run(5, "COMPLETE")], new_tick) == [w]
    pushed = _Waiter(6, None)
    core.add(pushed)
    assert core.apply([_run(6, "COMPLETE")]) == [pushed]  # notify(): always fresh


def test_fail_run_fails_only_that_run() -> None:
    core = _core()
    a, b = _Waiter(1, None), _Waiter(2, None)
    core.add(a)
    core.add(b)
    boom = ValueError("no such run")
    assert core.fail_run(1, boom) == [a]
    assert a.error is boom and not b.done and core.watched() == {2}


def test_deadline_expires_with_the_last_known_run() -> None:
    core = _core()
    w = _Waiter(7, deadline=100.0)
    core.add(w)
    core.apply([_run(7, "ACTIVE")])
    assert core.expire(99.9) == []
    assert core.expire(100.0) == [w]
    assert isinstance(w.error, RunTimeoutError)
    assert w.error.run is not None and w.error.run.id == 7
    assert "did not finish in time" in str(w.error)


def test_next_wake_never_sleeps_past_a_deadline() -> None:
    core = _core()
    core.add(_Waiter(7, deadline=10.3))
    assert core.next_wake(10.0, 0.2) == 0.2
    assert abs(core.next_wake(10.0, 5.0) - 0.3) < 1e-9


def test_next_page_only_when_several_runs_are_missing() -> None:
    core = _core()
    for run_id in (1, 2, 500):
        core.add(_Waiter(run_id, None))
    full_page = _page(range(600, 500, -1), total=600)
    assert core.wants_next_page(full_page, pages_read=1)
    assert not core.wants_next_page(full_page, pages_read=3)  # max_pages
    partial = _page(range(600, 550, -1), total=50)
    assert not core.wants_next_page(partial, pages_read=1)  # nothing older exists
    core2 = _core()
    core2.add(_Waiter(1, None))
    assert not core2.wants_next_page(full_page, pages_read=1)  # one GET is cheaper


def test_many_waiting_runs_are_read_by_pages_not_single_gets() -> None:
    # 1,000 waiting runs, the newest 1,000 of the org: ten list pages hold them all, so the
    # tick reads them all rather than stopping at max_pages and GETting 700 runs one by one.
    core = _core()
    for run_id in range(1, 1001):
        core.add(_Waiter(run_id, None))
    assert core.page_limit(1000) == 11
    assert core.page_limit(3) == 3  # few waiters: max_pages still bounds an unlucky search
    page = _page(range(1000, 900, -1), total=5000)
    assert core.wants_next_page(page, pages_read=3)
    assert core.wants_next_page(page, pages_read=10)
    assert not core.wants_next_page(page, pages_read=11)  # old runs: fall back to GETs
