"""The watcher's decisions, on their own: batching, paging, intervals, deadlines."""

from __future__ import annotations

from codegen_graph._exceptions import RunTimeoutError
from codegen_graph._watch import Waiter as _Waiter
from codegen_graph._watch import WatchCore as _WatchCore
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


def test_next_deadline_is_the_earliest() -> None:
    core = _core()
    assert core.next_deadline() is None
    core.add(_Waiter(7, deadline=10.3))
    core.add(_Waiter(8, deadline=4.0))
    core.add(_Waiter(9, deadline=None))
    assert core.next_deadline() == 4.0


def test_next_page_only_while_a_missing_run_is_older_than_the_page() -> None:
    core = _core()
    for run_id in (1, 2, 500):
        core.add(_Waiter(run_id, None))
    full_page = _page(range(600, 500, -1), total=600)
    assert core.wants_next_page(full_page, pages_read=1)  # three older runs: one page < 3 GETs
    assert core.wants_next_page(full_page, pages_read=4)  # no fixed cap: they are deeper
    assert not core.wants_next_page(full_page, pages_read=6)  # the last page
    partial = _page(range(600, 550, -1), total=50)
    assert not core.wants_next_page(partial, pages_read=1)  # nothing older exists
    lone = _core()
    lone.add(_Waiter(1, None))
    assert not lone.wants_next_page(full_page, pages_read=1)  # one GET is as cheap
    newer = _core()
    for run_id in (700, 701):  # newer than the page's first run: on no page, GET them
        newer.add(_Waiter(run_id, None))
    assert not newer.wants_next_page(full_page, pages_read=1)


def test_known_positions_choose_pages_or_gets_by_cost() -> None:
    # 150 waited runs at positions 300-449: five pages beat 150 GETs.
    core = _core()
    for run_id in range(1, 151):
        core.add(_Waiter(run_id, None))
    listing = range(450, 0, -1)  # ids 450..1, newest first
    for skip in (300, 400):
        ids = list(listing)[skip : skip + 100]
        core.learn(
            Page[AgentRunResponse](
                items=[_run(i, "ACTIVE") for i in ids],
                total=450,
                page=skip // 100 + 1,
                size=100,
                pages=5,
            ),
            skip,
        )
    first = _page(range(450, 350, -1), total=450)
    assert core.wants_next_page(first, pages_read=1)
    # One waited run far down (position 5,000, known): one GET beats 50 pages.
    deep = _core()
    deep.add(_Waiter(1, None))
    deep.add(_Waiter(2, None))
    deep.positions = {1: (5000, 5001), 2: (4990, 5001)}
    top = _page(range(5001, 4901, -1), total=5001)
    deep.learn(top, 0)
    assert not deep.wants_next_page(top, pages_read=1)
    # Positions shift with the runs created since: 40 new runs push position 80 to 120.
    shifted = _core()
    for run_id in (5, 6, 7):
        shifted.add(_Waiter(run_id, None))
    shifted.positions = {5: (80, 1000), 6: (81, 1000), 7: (82, 1000)}
    shifted.total = 1040
    assert shifted._estimated_page(5) == 1


def test_unordered_pages_fall_back_to_a_page_limit() -> None:
    # Ids not descending (the order is unknown): read on while two or more are missing,
    # up to max_pages or the pages that hold every waiting run, plus one.
    core = _core()
    for run_id in range(1, 1001):
        core.add(_Waiter(run_id, None))
    assert core.page_limit(1000) == 11
    assert core.page_limit(3) == 3
    shuffled = _page(range(5000, 4900, -1), total=5000)
    shuffled.items.reverse()
    assert core.wants_next_page(shuffled, pages_read=10)
    assert not core.wants_next_page(shuffled, pages_read=11)


def test_spacing_is_the_share_of_the_budget() -> None:
    assert _core().spacing == 30.0 / (60 * 0.8)
    assert _core(share=0.5).spacing == 1.0


def test_runs_created_together_may_come_in_either_order() -> None:
    # The API sorts by creation time; runs created at the same moment can swap places. The
    # page still lists newer runs first, and its smallest id is the boundary.
    core = _core()
    for run_id in range(1, 151):
        core.add(_Waiter(run_id, None))
    page = _page(range(450, 350, -1), total=450)
    page.items[10], page.items[11] = page.items[11], page.items[10]
    # Past the fallback's page limit (3): the order, not a cap, decides.
    assert core.wants_next_page(page, pages_read=3)
