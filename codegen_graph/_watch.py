"""The watcher's state and decisions, without I/O (the loop is in ``_async/watcher.py``).

Which runs are waited for, by whom and until when; which list pages a tick should read;
what a fetched state wakes. One lock guards it, so the watcher's loop (a thread or a task)
and the waiters (threads or tasks) share it safely.

**Memory stays bounded**: a run's state is kept only while someone waits for it; once its
last waiter is done (woken, expired, failed, gone) the watcher forgets it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    ClientClosedError,
    CodegenError,
    ResponseValidationError,
    RunTimeoutError,
)
from ._ratelimit import RateLimiter
from .models import AgentRunResponse, Page

__all__ = [
    "MALFORMED_READS",
    "Waiter",
    "WatchCore",
    "WatcherStats",
    "about_one_run",
    "beat",
    "ends_every_wait",
    "ends_waits",
    "run_timeout_error",
    "standard_budget",
    "unreadable_run_error",
    "wake_all",
]

log = logging.getLogger("codegen_graph.watcher")

_DOCUMENTED_STANDARD = (60, 30.0)  # calls, period: the API's standard budget

#: A waited run whose own ``GET`` answers this many times in a row with something that does
#: not match the API's model ends its waits with that ``ResponseValidationError``: a run we
#: cannot read would otherwise hold a wait without a timeout forever. One bad answer in
#: between good ones is forgiven.
MALFORMED_READS = 3


def unreadable_run_error(
    run_id: int, count: int, last: ResponseValidationError
) -> ResponseValidationError:
    """The error that ends a wait or a log stream on a run whose answers did not match the
    model ``count`` (:data:`MALFORMED_READS`) times in a row (``last`` the last of them)."""
    return ResponseValidationError(
        f"agent run {run_id} could not be read: {count} answers in a row did not match the "
        "API's model, so its wait ends; the remote run goes on (see it in Codegen's web "
        f"app). The last: {last.message}",
        method=last.method,
        path=last.path,
        request_id=last.request_id,
    )


@dataclass
class WatcherStats:
    """Counters a benchmark or test can read: how hard the watcher worked."""

    ticks: int = 0
    list_requests: int = 0
    get_requests: int = 0
    notified: int = 0
    errors: int = 0
    last_interval: float = 0.0
    #: Simulated seconds spent paused by back-pressure (an open circuit, a 429, backoff).
    paused: float = 0.0

    @property
    def requests(self) -> int:
        return self.list_requests + self.get_requests


@dataclass
class Waiter:
    run_id: int
    deadline: float | None
    # Ticks started before the waiter registered may carry a stale state (a run seen
    # COMPLETE just before it was resumed); only later ticks may wake it.
    since_tick: int = 0
    # Exactly one of these is set once the waiter is done.
    result: AgentRunResponse | None = None
    error: BaseException | None = None
    wake: Callable[[], None] = field(default=lambda: None)
    # Called after every tick while the waiter waits (a LangGraph node's heartbeat).
    on_tick: Callable[[], None] | None = None
    # The state the caller knew when it began to wait: what a timeout reports when the
    # deadline passes before the watcher has read the run.
    known: AgentRunResponse | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


def run_timeout_error(run_id: int, last: AgentRunResponse | None) -> RunTimeoutError:
    """The error a wait raises when its deadline passes, carrying the last state seen."""
    status = last.status if last is not None else None
    return RunTimeoutError(
        f"agent run {run_id} did not finish in time (last status: {status or 'unknown'}); "
        "the remote run goes on - wait again, or resume it later",
        run=last,
    )


def standard_budget(limiter: RateLimiter) -> tuple[int, float]:
    """The client's standard budget; the documented one when its limiter is switched off
    (the watcher stays polite to the server either way)."""
    budgets = limiter.budgets
    if budgets is None:
        return _DOCUMENTED_STANDARD
    return budgets.standard.calls, budgets.standard.period + budgets.standard.margin


def _newest_first(page: Page[AgentRunResponse]) -> bool:
    """Whether the page lists newer runs (greater ids) first, as the API does. Runs created
    at the same moment may come in either order (the API sorts by creation time), so only
    the page as a whole is checked, and the smallest id on it is the boundary."""
    ids = [run.id for run in page.items]
    return len(ids) < 2 or ids[0] > ids[-1]


class WatchCore:
    """State and decisions of a watcher; no I/O, guarded by one lock."""

    def __init__(
        self,
        *,
        budget: tuple[int, float],
        share: float,
        min_interval: float,
        max_interval: float,
        page_size: int,
        max_pages: int,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.calls, self.period = budget
        self.share = share
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.page_size = page_size
        self.max_pages = max_pages
        self.lock = threading.Lock()
        self.waiters: dict[int, list[Waiter]] = {}
        self.latest: dict[int, AgentRunResponse] = {}
        # run id -> (position in the listing, the listing's total then): where to look next
        self.positions: dict[int, tuple[int, int]] = {}
        self.total: int | None = None  # the listing's total at the last page read
        self.ticks_started = 0
        self.malformed: dict[int, int] = {}  # run id -> malformed answers in a row
        self.stats = WatcherStats()
        #: Set by :meth:`close`: every later wait fails with it at once.
        self.closed: BaseException | None = None

    # -- registration ---------------------------------------------------------------------
    def add(self, waiter: Waiter) -> None:
        # No answer from the cache: a terminal state seen earlier may be stale (the run can
        # have been resumed since). Callers check the state they hold before waiting.
        with self.lock:
            if self.closed is not None:
                waiter.error = self.closed
                return
            waiter.since_tick = self.ticks_started
            self.waiters.setdefault(waiter.run_id, []).append(waiter)

    def _forget(self, run_id: int) -> None:
        """Drop what is known of a run nobody waits for any more (holding the lock)."""
        if run_id not in self.waiters:
            self.latest.pop(run_id, None)
            self.positions.pop(run_id, None)
            self.malformed.pop(run_id, None)

    def start_tick(self) -> int:
        """Number a tick as it starts; states it fetches can wake waiters added before."""
        with self.lock:
            self.ticks_started += 1
            return self.ticks_started

    def discard(self, waiter: Waiter) -> None:
        with self.lock:
            group = self.waiters.get(waiter.run_id)
            if group and waiter in group:
                group.remove(waiter)
                if not group:
                    del self.waiters[waiter.run_id]
                    self._forget(waiter.run_id)

    @property
    def active(self) -> bool:
        with self.lock:
            return bool(self.waiters)

    def watched(self) -> set[int]:
        with self.lock:
            return set(self.waiters)

    def is_watched(self, run_id: int) -> bool:
        with self.lock:
            return run_id in self.waiters

    # -- updates ----------------------------------------------------------------------------
    def apply(self, runs: Iterable[AgentRunResponse], tick: int | None = None) -> list[Waiter]:
        """Record run states fetched by ``tick`` (``None``: pushed, always fresh); return
        the waiters that are now done."""
        woken: list[Waiter] = []
        with self.lock:
            for run in runs:
                if run.id not in self.waiters:
                    continue
                self.latest[run.id] = run
                self.malformed.pop(run.id, None)
                if run.status is None or not run.status.is_terminal:
                    continue
                group = self.waiters.pop(run.id)
                keep = [w for w in group if tick is not None and tick <= w.since_tick]
                for waiter in group:
                    if waiter not in keep:
                        waiter.result = run
                        woken.append(waiter)
                if keep:
                    self.waiters[run.id] = keep
                self._forget(run.id)
        return woken

    def read_failed(self, run_id: int, exc: BaseException) -> list[Waiter] | None:
        """A ``GET`` of one waited run failed: ``None`` if the error is not about that run
        (the tick stops there), else the waiters it ends: all of them for an error no later
        read can fix (:func:`ends_waits`: an unknown run, one not ours to read, a request
        the API refuses), all of them once :data:`MALFORMED_READS` answers in a row did not
        match the model, none for a malformed answer before that (read it next tick)."""
        if isinstance(exc, (AuthenticationError, ClientClosedError)):
            return None  # the token or the client: every wait, not this run's
        if ends_waits(exc):
            return self.fail_run(run_id, exc)
        if not isinstance(exc, ResponseValidationError):
            return None
        with self.lock:
            if run_id not in self.waiters:
                return []
            count = self.malformed[run_id] = self.malformed.get(run_id, 0) + 1
        if count < MALFORMED_READS:
            return []
        return self.fail_run(run_id, unreadable_run_error(run_id, count, exc))

    def unreadable(self, run_ids: Iterable[int]) -> list[int]:
        """Those of ``run_ids`` whose last ``GET`` answer did not match the model."""
        with self.lock:
            return [run_id for run_id in run_ids if run_id in self.malformed]

    def fail_run(self, run_id: int, exc: BaseException) -> list[Waiter]:
        """Fail the waiters of one run (its id is unknown, not ours to read, or unreadable)."""
        with self.lock:
            failed = self.waiters.pop(run_id, [])
            self._forget(run_id)
        for waiter in failed:
            waiter.error = exc
        return failed

    def expire(self, now: float) -> list[Waiter]:
        """Fail the waiters whose deadline has passed."""
        expired: list[Waiter] = []
        with self.lock:
            for run_id in list(self.waiters):
                keep = []
                for waiter in self.waiters[run_id]:
                    if waiter.deadline is not None and now >= waiter.deadline:
                        last = self.latest.get(run_id) or waiter.known
                        waiter.error = run_timeout_error(run_id, last)
                        expired.append(waiter)
                    else:
                        keep.append(waiter)
                if keep:
                    self.waiters[run_id] = keep
                else:
                    del self.waiters[run_id]
                    self._forget(run_id)
        return expired

    def fail_all(self, exc: BaseException, *, close: bool = False) -> list[Waiter]:
        """Fail every waiter; with ``close``, every later one too (the client closed)."""
        with self.lock:
            if close:
                self.closed = exc
            failed = [w for group in self.waiters.values() for w in group]
            self.waiters.clear()
            self.latest.clear()
            self.positions.clear()
            self.malformed.clear()
        for waiter in failed:
            waiter.error = exc
        return failed

    def next_wake(self, now: float, interval: float) -> float:
        """Seconds to sleep: ``interval``, or until the earliest deadline if sooner."""
        deadline = self.next_deadline()
        if deadline is not None:
            interval = min(interval, max(0.0, deadline - now))
        return interval

    def next_deadline(self) -> float | None:
        with self.lock:
            deadlines = [
                w.deadline for g in self.waiters.values() for w in g if w.deadline is not None
            ]
        return min(deadlines) if deadlines else None

    # -- decisions --------------------------------------------------------------------------
    @property
    def spacing(self) -> float:
        """Seconds between two watcher requests: its share of the standard budget."""
        return self.period / (self.calls * self.share)

    def interval(self, requests: int) -> float:
        """The budgeted length of a tick that made ``requests`` requests (for stats)."""
        value = max(self.min_interval, max(1, requests) * self.spacing)
        return min(self.max_interval, value)

    def page_limit(self, watched: int) -> int:
        """List pages a tick may read when the listing's order is unknown (a page that
        does not list newer runs first): ``max_pages``, or enough to hold every waiting run plus
        one. With the API's order, the oldest waited run bounds the depth instead."""
        return max(self.max_pages, math.ceil(watched / self.page_size) + 1)

    def learn(self, page: Page[AgentRunResponse], skip: int) -> None:
        """Remember where each waited run on ``page`` stands in the listing."""
        with self.lock:
            self.total = page.total
            for index, run in enumerate(page.items):
                if run.id in self.waiters:
                    self.positions[run.id] = (skip + index, page.total)

    def _estimated_page(self, run_id: int) -> int | None:
        known = self.positions.get(run_id)
        if known is None:
            return None
        position, total_then = known
        shift = max(0, (self.total or total_then) - total_then)  # runs created since
        return (position + shift) // self.page_size

    def wants_next_page(
        self, page: Page[AgentRunResponse], pages_read: int, seen: set[int] | None = None
    ) -> bool:
        """After reading ``pages_read`` pages (the last one ``page``), read one more?

        Only while a missing waited run is *older* than the page's last run (deeper in the
        listing), and only while reading on costs fewer requests than GETting those runs:
        a depth ``D`` costs ``D - pages_read + 1`` pages plus one GET per run estimated
        deeper than ``D``; a run whose position is unknown is assumed on the next page.
        """
        watched = self.watched()
        missing = watched - (seen if seen is not None else {r.id for r in page.items})
        received = max(getattr(page, "received", 0), len(page.items))  # skipped items too
        if not missing or received < self.page_size or pages_read >= page.pages:
            return False
        if not _newest_first(page) or not page.items:
            return len(missing) >= 2 and pages_read < self.page_limit(len(watched))
        oldest = min(run.id for run in page.items)
        deeper = [run_id for run_id in missing if run_id < oldest]
        if not deeper:
            return False  # the rest are not on any page: GET them
        with self.lock:
            estimates = [self._estimated_page(r) for r in deeper]
        here = pages_read - 1  # index of the page just read
        # Each deeper run's page: its estimate, at least the next page.
        pages_of = [here + 1 if e is None else max(here + 1, e) for e in estimates]
        best = min(d - here + sum(1 for p in pages_of if p > d) for d in set(pages_of))
        return best < len(deeper)  # stopping here costs one GET per deeper run


def wake_all(waiters: Iterable[Waiter]) -> None:
    for waiter in waiters:
        waiter.wake()


def beat(core: WatchCore) -> None:
    """Tell every waiter that has an ``on_tick`` that a tick happened (it is alive)."""
    with core.lock:
        hooks = [w.on_tick for g in core.waiters.values() for w in g if w.on_tick is not None]
    for hook in hooks:
        try:
            hook()
        except Exception as exc:  # a broken hook must not stop the watcher
            log.warning("watcher on_tick hook failed: %s", exc)


def ends_waits(exc: BaseException) -> bool:
    """Whether a failed read of one run ends its waits instead of costing a pause: an error
    no later read can fix (not transient: a 4xx other than 408, 409 and 429, a plugin's
    veto of its text, a closed client). A malformed answer is counted instead
    (:data:`MALFORMED_READS`). The watcher's reads of a run and a log stream decide with
    this; for the list, see :func:`ends_every_wait`."""
    return (
        isinstance(exc, CodegenError)
        and not exc.is_transient
        and not isinstance(exc, ResponseValidationError)
    )


def ends_every_wait(exc: BaseException) -> bool:
    """Whether a failed read of the run *list* ends every wait: the API refused the list
    itself (an :func:`ends_waits` error with an HTTP status: a 403, a 404, a 400...)."""
    return isinstance(exc, APIStatusError) and ends_waits(exc)


def about_one_run(exc: BaseException) -> bool:
    """Whether a failed list read may be about one run on the page (a malformed item, a
    plugin's veto of one run's text): the tick then reads the waited runs by id, so only
    that run's waits end."""
    return isinstance(exc, ResponseValidationError) or (
        ends_waits(exc) and not isinstance(exc, (APIStatusError, ClientClosedError))
    )
