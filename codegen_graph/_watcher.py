"""One batched status watcher per client.

The API has no webhooks and no streaming, so every waiting run must be polled. Polling each
run on its own (``GET /agent/run/{id}`` every 2 s) spends the standard budget (60 requests
per 30 s) on four runs. The watcher instead refreshes *every* waiting run with as few
requests as it can, each tick:

1. ``GET /agent/runs`` pages (limit 100, newest first) from the first one down, each
   refreshing every waiting run on it. A next page is read only while a waiting run is
   still missing *and older* than the page's last run (so a tick never reads past the
   oldest waited run), and only while that is cheaper than single GETs: a run's position
   is remembered from the page it was last found on, shifted by the runs created since.
2. Runs still missing are fetched with single ``GET`` requests.

So a tick costs at most ``ceil(position of the oldest waited run / 100)`` list pages plus
the runs not found on them, and 150 runs behind 300 newer ones cost 5 pages, not 150 GETs.

**Pacing.** Every request of the watcher is spaced by ``period / (calls * share)`` seconds
of the standard budget (0.646 s at the defaults: 80% of 60 per 31 s), inside a tick as well
as between ticks, so any window of the budget holds at most its share of watcher requests;
the client's rate limiter stays a last line of defence for the user's other calls.

**A poll failure is not a run failure.** The watcher polls without the client's retries
and decides itself when to poll again: a 5xx, a dropped connection, a 429, an open circuit
or a malformed page costs a tick (the next one comes after the client's backoff, the
``Retry-After`` or the circuit's half-open time), never a waiter. A waiter ends only by its
run's terminal state, its own deadline, or an error about *its* run (404, 403 on its GET);
a 401 or 403 on the list, which no later tick can fix, fails every waiter with that error.

**Deadlines** are kept on the client's clock: every sleep of the watcher is cut into
slices of at most :data:`_SLICE` seconds and expires waiters in between, and a long tick
expires them between requests, so ``wait(timeout=T)`` raises within ``T + 1`` s. With no
waiter the loop stops: no idle polling.

The whole loop is one sans-IO plan (:meth:`_WatcherBase._plan`) yielding ``("sleep", s)``,
``("list", skip)``, ``("get", run_id)`` or ``("idle", None)`` and receiving each request's
result or exception; :class:`RunWatcher` (a daemon thread, for
:class:`~codegen_graph.CodegenClient`) and :class:`AsyncRunWatcher` (an asyncio task, for
:class:`~codegen_graph.AsyncCodegenClient`) only drive it. A coordinator that shares one
poller between processes can drive the same plan, or feed states through :meth:`notify`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AuthenticationError,
    CodegenError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunTimeoutError,
)
from ._retry import pause_for
from .models import AgentRunResponse, Page

if TYPE_CHECKING:
    from ._base_client import RequestSpec
    from ._client import AsyncCodegenClient, CodegenClient

__all__ = ["AsyncRunWatcher", "RunWatcher", "WatcherStats"]

log = logging.getLogger("codegen_graph.watcher")

_DOCUMENTED_STANDARD = (60, 30.0)  # calls, period: the API's standard budget
#: The longest single sleep of the watcher: deadlines are checked at least this often.
_SLICE = 0.5
#: Seconds of nothing but failed polls after which the watcher says so once at WARNING
#: (before that, and after, INFO: the waits go on by themselves).
_WARN_AFTER = 300.0
_Action = tuple[str, Any]  # ("sleep", s) | ("list", skip) | ("get", run_id) | ("idle", None)


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
class _Waiter:
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


def _standard_budget(client: CodegenClient | AsyncCodegenClient) -> tuple[int, float]:
    """The client's standard budget; the documented one when its limiter is switched off
    (the watcher stays polite to the server either way)."""
    budgets = client.rate_budgets.budgets
    if budgets is None:
        return _DOCUMENTED_STANDARD
    return budgets.standard.calls, budgets.standard.period + budgets.standard.margin


def _newest_first(page: Page[AgentRunResponse]) -> bool:
    """Whether the page lists newer runs (greater ids) first, as the API does. Runs created
    at the same moment may come in either order (the API sorts by creation time), so only
    the page as a whole is checked, and the smallest id on it is the boundary."""
    ids = [run.id for run in page.items]
    return len(ids) < 2 or ids[0] > ids[-1]


class _WatchCore:
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
        self.waiters: dict[int, list[_Waiter]] = {}
        self.latest: dict[int, AgentRunResponse] = {}
        # run id -> (position in the listing, the listing's total then): where to look next
        self.positions: dict[int, tuple[int, int]] = {}
        self.total: int | None = None  # the listing's total at the last page read
        self.ticks_started = 0
        self.stats = WatcherStats()

    # -- registration ---------------------------------------------------------------------
    def add(self, waiter: _Waiter) -> None:
        # No answer from the cache: a terminal state seen earlier may be stale (the run can
        # have been resumed since). Callers check the state they hold before waiting.
        with self.lock:
            waiter.since_tick = self.ticks_started
            self.waiters.setdefault(waiter.run_id, []).append(waiter)

    def start_tick(self) -> int:
        """Number a tick as it starts; states it fetches can wake waiters added before."""
        with self.lock:
            self.ticks_started += 1
            return self.ticks_started

    def discard(self, waiter: _Waiter) -> None:
        with self.lock:
            group = self.waiters.get(waiter.run_id)
            if group and waiter in group:
                group.remove(waiter)
                if not group:
                    del self.waiters[waiter.run_id]

    @property
    def active(self) -> bool:
        with self.lock:
            return bool(self.waiters)

    def watched(self) -> set[int]:
        with self.lock:
            return set(self.waiters)

    # -- updates ----------------------------------------------------------------------------
    def apply(self, runs: Iterable[AgentRunResponse], tick: int | None = None) -> list[_Waiter]:
        """Record run states fetched by ``tick`` (``None``: pushed, always fresh); return
        the waiters that are now done."""
        woken: list[_Waiter] = []
        with self.lock:
            for run in runs:
                self.latest[run.id] = run
                if run.status is None or not run.status.is_terminal:
                    continue
                group = self.waiters.pop(run.id, [])
                keep = [w for w in group if tick is not None and tick <= w.since_tick]
                for waiter in group:
                    if waiter not in keep:
                        waiter.result = run
                        woken.append(waiter)
                if keep:
                    self.waiters[run.id] = keep
                else:
                    self.positions.pop(run.id, None)
        return woken

    def fail_run(self, run_id: int, exc: BaseException) -> list[_Waiter]:
        """Fail the waiters of one run (its id is unknown, or not ours to read)."""
        with self.lock:
            failed = self.waiters.pop(run_id, [])
        for waiter in failed:
            waiter.error = exc
        return failed

    def expire(self, now: float) -> list[_Waiter]:
        """Fail the waiters whose deadline has passed."""
        expired: list[_Waiter] = []
        with self.lock:
            for run_id in list(self.waiters):
                keep = []
                for waiter in self.waiters[run_id]:
                    if waiter.deadline is not None and now >= waiter.deadline:
                        waiter.error = run_timeout_error(run_id, self.latest.get(run_id))
                        expired.append(waiter)
                    else:
                        keep.append(waiter)
                if keep:
                    self.waiters[run_id] = keep
                else:
                    del self.waiters[run_id]
        return expired

    def fail_all(self, exc: BaseException) -> list[_Waiter]:
        with self.lock:
            failed = [w for group in self.waiters.values() for w in group]
            self.waiters.clear()
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
        missing = self.watched() - (seen if seen is not None else {r.id for r in page.items})
        if not missing or len(page.items) < self.page_size or pages_read >= page.pages:
            return False
        if not _newest_first(page):
            return len(missing) >= 2 and pages_read < self.page_limit(len(self.watched()))
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


def _wake_all(waiters: Iterable[_Waiter]) -> None:
    for waiter in waiters:
        waiter.wake()


def _beat(core: _WatchCore) -> None:
    """Tell every waiter that has an ``on_tick`` that a tick happened (it is alive)."""
    with core.lock:
        hooks = [w.on_tick for g in core.waiters.values() for w in g if w.on_tick is not None]
    for hook in hooks:
        try:
            hook()
        except Exception as exc:  # a broken hook must not stop the watcher
            log.warning("watcher on_tick hook failed: %s", exc)


def _about_everyone(exc: BaseException) -> bool:
    """An error on the *list* call that no later tick can fix: a rejected token, no access
    to the organisation, an unknown organisation."""
    return isinstance(exc, (AuthenticationError, PermissionDeniedError, NotFoundError))


def _about_the_run(exc: BaseException) -> bool:
    """An error on one run's GET that is about that run: unknown, or not ours to read."""
    return isinstance(exc, (NotFoundError, PermissionDeniedError))


class _WatcherBase:
    def __init__(
        self,
        client: CodegenClient | AsyncCodegenClient,
        *,
        share: float = 0.8,
        min_interval: float = 0.25,
        max_interval: float = 30.0,
        page_size: int = 100,
        max_pages: int = 3,
    ) -> None:
        self._client = client
        self._clock = client.clock
        self._core = _WatchCore(
            budget=_standard_budget(client),
            share=share,
            min_interval=min_interval,
            max_interval=max_interval,
            page_size=page_size,
            max_pages=max_pages,
        )
        self._random = random.Random()
        self._next_request = float("-inf")  # clock time the next request may go out
        self._failures = 0  # consecutive failed polls
        self._failing_since: float | None = None  # when they began
        self._warned = False

    @property
    def stats(self) -> WatcherStats:
        return self._core.stats

    @property
    def watching(self) -> set[int]:
        """Ids of the runs that currently have a waiter."""
        return self._core.watched()

    def latest(self, run_id: int) -> AgentRunResponse | None:
        """The freshest state of a run the watcher has seen, if any."""
        with self._core.lock:
            return self._core.latest.get(run_id)

    def notify(self, run: AgentRunResponse) -> None:
        """Feed a run state from a push source; waiters on a terminal run wake at once."""
        self._core.stats.notified += 1
        _wake_all(self._core.apply([run]))

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is None:
            return None
        if timeout < 0 or math.isnan(timeout):
            raise ValueError("timeout must be a non-negative number of seconds, or None")
        return float(self._clock.now() + timeout)

    # The watcher's two reads, as the resource builds them (``GET /agent/runs``, ``GET
    # /agent/run/{id}``) but without the client's retries: a failed poll costs a tick.
    # (RequestSpec is imported here: the client core imports coordination, which builds on
    # this module.)
    def _list_spec(self, skip: int) -> RequestSpec[Page[AgentRunResponse]]:
        from ._base_client import RequestSpec

        return RequestSpec(
            "GET",
            f"/v1/organizations/{self._client.org_id}/agent/runs",
            parse=Page[AgentRunResponse].model_validate,
            params={"skip": skip, "limit": self._core.page_size},
            max_retries=0,
        )

    def _get_spec(self, run_id: int) -> RequestSpec[AgentRunResponse]:
        from ._base_client import RequestSpec

        return RequestSpec(
            "GET",
            f"/v1/organizations/{self._client.org_id}/agent/run/{run_id}",
            parse=AgentRunResponse.model_validate,
            max_retries=0,
        )

    # -- the plan ---------------------------------------------------------------------------
    def _plan(self) -> Generator[_Action, Any, None]:
        """The watcher's whole life as a plan; see the module docstring."""
        core = self._core
        while True:
            if not core.active:
                yield ("idle", None)  # the driver stops unless a waiter arrived meanwhile
                continue
            started = self._clock.now()
            # The driver runs the tick (``_tick``: by default the sub-plan
            # ``_tick_plan``; a coordinated watcher may read shared state instead) and
            # sends back its request count, or the exception it raised.
            outcome = yield ("tick", None)
            requests = 0
            if isinstance(outcome, BaseException):
                self._poll_failed(outcome, everyone=True)
            else:
                requests = int(outcome)
            core.stats.ticks += 1
            core.stats.last_interval = core.interval(requests)
            _wake_all(core.expire(self._clock.now()))
            _beat(core)  # a failed poll is a tick too: the waits are alive
            # A tick's requests were paced already; a tick of none (answered from shared
            # state) still waits its slot's worth, and min_interval separates tick starts.
            yield from self._pause_until(started + core.interval(requests))

    def _pause_until(self, until: float) -> Generator[_Action, Any, bool]:
        """Sleep until ``until`` in slices, expiring waiters between; ``False`` if nobody
        waits any more."""
        core, clock = self._core, self._clock
        while True:
            now = clock.now()
            _wake_all(core.expire(now))
            if not core.active:
                return False
            if now >= until:
                return True
            step = min(until - now, _SLICE)
            deadline = core.next_deadline()
            if deadline is not None:
                step = min(step, max(0.0, deadline - now))
            yield ("sleep", step)

    def _before_request(self) -> Generator[_Action, Any, bool]:
        """Wait for the watcher's next request slot (and for the client's budget, so the
        request itself never sleeps where deadlines cannot interrupt it)."""
        limiter = self._client.rate_budgets
        until = max(self._next_request, limiter.next_free_at("standard"))
        return (yield from self._pause_until(until))

    def _sent(self, at: float) -> None:
        """A request went out at ``at``: the next one may go ``spacing`` later (from the
        send, not the answer, so a slow answer does not slow the pace below the share).
        (+1 us: float rounding must never pack one request too many into a window.)"""
        self._next_request = max(self._next_request, at + self._core.spacing + 1e-6)

    def _tick_plan(self) -> Generator[_Action, Any, int]:
        """One tick: list pages while worth it, then single GETs; returns requests made."""
        core = self._core
        tick = core.start_tick()
        requests, pages = 0, 0
        seen: set[int] = set()
        while True:
            if not (yield from self._before_request()):
                return requests
            skip, sent = pages * core.page_size, self._clock.now()
            result = yield ("list", skip)
            self._sent(sent)
            requests, pages = requests + 1, pages + 1
            core.stats.list_requests += 1
            if isinstance(result, BaseException):
                self._poll_failed(result, everyone=True)
                return requests
            page: Page[AgentRunResponse] = result
            self._recovered()
            core.learn(page, skip)
            seen.update(r.id for r in page.items)
            watched = core.watched()
            _wake_all(core.apply((r for r in page.items if r.id in watched), tick))
            if not core.wants_next_page(page, pages, seen):
                break
        for run_id in sorted(core.watched() - seen):
            if run_id not in core.watched():
                continue  # its waiters left (deadline) while this tick went on
            if not (yield from self._before_request()):
                return requests
            sent = self._clock.now()
            result = yield ("get", run_id)
            self._sent(sent)
            requests += 1
            core.stats.get_requests += 1
            if isinstance(result, BaseException):
                if _about_the_run(result):
                    _wake_all(core.fail_run(run_id, result))
                    continue
                self._poll_failed(result, everyone=False)
                return requests
            self._recovered()
            _wake_all(core.apply([result], tick))
        return requests

    def _run_failed(self, run_id: int, exc: CodegenError) -> None:
        """A single GET made outside the tick plan failed (a coordinated follower's): an
        error about the run fails its waiters; any other fails the tick (raised)."""
        if not _about_the_run(exc):
            raise exc
        _wake_all(self._core.fail_run(run_id, exc))

    def _recovered(self) -> None:
        self._failures, self._failing_since, self._warned = 0, None, False

    def _poll_failed(self, exc: BaseException, *, everyone: bool) -> None:
        """A poll failed: fail the waiters only if no later tick can fix it; else pause."""
        core, clock = self._core, self._clock
        core.stats.errors += 1
        if not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt, cancellation: the driver fails the waiters
        if isinstance(exc, AuthenticationError) or (everyone and _about_everyone(exc)):
            log.warning("watcher: %s; every wait on this client fails with it", exc)
            _wake_all(core.fail_all(exc))
            return
        self._failures += 1
        now = clock.now()
        if self._failing_since is None:
            self._failing_since = now
        if isinstance(exc, CodegenError):
            pause = pause_for(
                exc, self._failures, self._client.retry, now=now, rand=self._random.random
            )
        else:  # not ours to classify (a bug?): keep waiting, but say so
            pause = core.spacing * 2 ** min(self._failures, 6)
            log.warning(
                "watcher: unexpected %s; polling again in %.1fs",
                type(exc).__name__,
                pause,
                exc_info=exc,
            )
        if not self._warned and now - self._failing_since >= _WARN_AFTER:
            self._warned = True
            log.warning(
                "watcher: every poll for %.0fs failed (last: %s); waits go on, next poll in %.1fs",
                now - self._failing_since,
                exc,
                pause,
            )
        else:
            log.info("watcher: poll failed (%s); waits go on, next poll in %.1fs", exc, pause)
        if pause > 0:
            if isinstance(exc, RateLimitError):
                self._client.rate_budgets.hold("standard", now + pause)
            core.stats.paused += pause
            self._next_request = max(self._next_request, now + pause)


class RunWatcher(_WatcherBase):
    """The batched watcher of a :class:`~codegen_graph.CodegenClient` (a daemon thread).

    Created by the client on first use (``client.watcher``); waiting handles register here.
    """

    _client: CodegenClient

    def __init__(self, client: CodegenClient, **options: Any) -> None:
        super().__init__(client, **options)
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def wait_for(
        self,
        run_id: int,
        *,
        timeout: float | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> AgentRunResponse:
        """Block until run ``run_id`` is terminal; return its final state.

        ``on_tick`` is called (from the watcher's thread) after each tick while this waits.

        Raises:
            RunTimeoutError: ``timeout`` (clock seconds) passed first.
            NotFoundError, PermissionDeniedError: the run cannot be read.
            AuthenticationError: the token was rejected.
        """
        event = threading.Event()
        waiter = _Waiter(run_id, self._deadline(timeout), wake=event.set, on_tick=on_tick)
        self._core.add(waiter)
        if not waiter.done:
            self._ensure_running()
            try:
                event.wait()
            finally:
                self._core.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.result is not None
        return waiter.result

    def _ensure_running(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="codegen-graph-watcher", daemon=True
                )
                self._thread.start()

    def _call(self, kind: str, arg: int) -> Any:
        if kind == "list":
            return self._client._request(self._list_spec(arg))
        return self._client._request(self._get_spec(arg))

    def _drive(self, plan: Generator[_Action, Any, Any]) -> Any:
        """Run a plan: sleep, send requests, run ticks; stop at ``idle`` if nobody waits."""
        result: Any = None
        try:
            while True:
                kind, arg = plan.send(result)
                result = None
                if kind == "sleep":
                    self._clock.sleep(arg)
                elif kind == "idle":
                    with self._thread_lock:
                        if not self._core.active:
                            self._thread = None
                            return None
                else:
                    try:
                        result = self._tick() if kind == "tick" else self._call(kind, arg)
                    except Exception as exc:  # the plan decides what a failure means
                        result = exc
        except StopIteration as done:
            return done.value
        finally:
            plan.close()

    def _tick(self) -> int:
        """One tick (override point for a coordinated watcher); returns requests made."""
        return int(self._drive(self._tick_plan()))

    def _loop(self) -> None:
        try:
            self._drive(self._plan())
        except BaseException as exc:  # keep waiters informed, never die silently
            _wake_all(self._core.fail_all(exc))
            with self._thread_lock:
                self._thread = None
            if isinstance(exc, Exception):
                log.exception("watcher stopped")


class AsyncRunWatcher(_WatcherBase):
    """The batched watcher of an :class:`~codegen_graph.AsyncCodegenClient` (an asyncio task)."""

    _client: AsyncCodegenClient

    def __init__(self, client: AsyncCodegenClient, **options: Any) -> None:
        super().__init__(client, **options)
        self._task: asyncio.Task[None] | None = None

    async def wait_for(
        self,
        run_id: int,
        *,
        timeout: float | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> AgentRunResponse:
        """Wait until run ``run_id`` is terminal; return its final state.

        ``on_tick`` is called after each tick while this waits.

        Raises:
            RunTimeoutError: ``timeout`` (clock seconds) passed first.
            NotFoundError, PermissionDeniedError: the run cannot be read.
            AuthenticationError: the token was rejected.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            def resolve() -> None:
                if not future.done():
                    future.set_result(None)

            loop.call_soon_threadsafe(resolve)

        waiter = _Waiter(run_id, self._deadline(timeout), wake=wake, on_tick=on_tick)
        self._core.add(waiter)
        if not waiter.done:
            self._ensure_running()
            try:
                await future
            finally:
                self._core.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.result is not None
        return waiter.result

    def _ensure_running(self) -> None:
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _call(self, kind: str, arg: int) -> Any:
        if kind == "list":
            return await self._client._request(self._list_spec(arg))
        return await self._client._request(self._get_spec(arg))

    async def _drive(self, plan: Generator[_Action, Any, Any]) -> Any:
        """Run a plan: sleep, send requests, run ticks; stop at ``idle`` if nobody waits."""
        result: Any = None
        try:
            while True:
                kind, arg = plan.send(result)
                result = None
                if kind == "sleep":
                    await self._clock.asleep(arg)
                elif kind == "idle":
                    if not self._core.active:
                        return None
                else:
                    try:
                        if kind == "tick":
                            result = await self._tick()
                        else:
                            result = await self._call(kind, arg)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # the plan decides what a failure means
                        result = exc
        except StopIteration as done:
            return done.value
        finally:
            plan.close()

    async def _tick(self) -> int:
        """One tick (override point for a coordinated watcher); returns requests made."""
        return int(await self._drive(self._tick_plan()))

    async def _loop(self) -> None:
        try:
            await self._drive(self._plan())
        except asyncio.CancelledError:
            _wake_all(self._core.fail_all(asyncio.CancelledError()))
            raise
        except Exception as exc:  # keep waiters informed, never die silently
            log.exception("watcher stopped")
            _wake_all(self._core.fail_all(exc))
        finally:
            if self._task is asyncio.current_task():
                self._task = None


# The seam codegen_graph._coordination builds the shared poller on (one org, many processes):
# a coordinated watcher adds proxy waiters to its core and wakes them like any other.
Waiter = _Waiter
WatchCore = _WatchCore
wake_all = _wake_all
