"""One batched status watcher per client.

The API has no webhooks and no streaming, so every waiting run must be polled. Polling each
run on its own (``GET /agent/run/{id}`` every 2 s) spends the standard budget (60 requests
per 30 s) on four runs. The watcher instead refreshes *every* waiting run with as few
requests as it can:

1. one ``GET /agent/runs`` page (limit 100, newest first) refreshes every waiting run on it;
2. while two or more waiting runs are still missing and the page was full, it reads the next
   page (at most ``max_pages``, or as many pages as hold every waiting run, plus one);
3. runs still missing fall back to single ``GET`` requests.

The tick interval adapts to the budget: ``requests_last_tick * period / (calls * share)``
seconds, never below ``min_interval``. Few waiting runs -> one request per tick, a tick
every ~0.6 s; many old runs -> longer ticks, never over the limit (the client's rate budget
spaces the requests as a last line of defence). With no waiter the loop stops: no idle
polling.

A waiter wakes as soon as its run is seen terminal, by a tick or by :meth:`notify` (a push
source such as a webhook receiver the user runs). Deadlines are kept on the client's clock,
so waits obey simulated time on the local backend.

:class:`RunWatcher` (a daemon thread, for :class:`~codegen_graph.CodegenClient`) and
:class:`AsyncRunWatcher` (an asyncio task, for :class:`~codegen_graph.AsyncCodegenClient`)
share :class:`_WatchCore`, which holds all state and every decision; the two only do I/O.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._exceptions import CodegenError, RunTimeoutError
from .models import AgentRunResponse, Page

if TYPE_CHECKING:
    from ._client import AsyncCodegenClient, CodegenClient

__all__ = ["AsyncRunWatcher", "RunWatcher", "WatcherStats"]

log = logging.getLogger("codegen_graph.watcher")

_DOCUMENTED_STANDARD = (60, 30.0)  # calls, period: the API's standard budget
_Request = tuple[str, int]  # ("list", skip) or ("get", run_id)


@dataclass
class WatcherStats:
    """Counters a benchmark or test can read: how hard the watcher worked."""

    ticks: int = 0
    list_requests: int = 0
    get_requests: int = 0
    notified: int = 0
    errors: int = 0
    last_interval: float = 0.0

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

    # -- decisions --------------------------------------------------------------------------
    def page_limit(self, watched: int) -> int:
        """List pages one tick may read: ``max_pages``, or enough to hold every waiting run
        plus one when more runs wait than that holds.

        One more page costs one request and can replace up to ``page_size`` single GETs, so
        1,000 waiting runs are read in 11 list requests, not 3 lists and 700 GETs; the
        limit keeps the list cost near 1% of the GET fallback when the waited runs are old.
        """
        return max(self.max_pages, math.ceil(watched / self.page_size) + 1)

    def wants_next_page(self, page: Page[AgentRunResponse], pages_read: int) -> bool:
        watched = self.watched()
        missing = watched - {run.id for run in page.items}
        return (
            len(missing) >= 2
            and len(page.items) >= self.page_size
            and pages_read < self.page_limit(len(watched))
            and pages_read < page.pages
        )

    def interval(self, requests: int) -> float:
        """Seconds until the next tick, after a tick that made ``requests`` requests."""
        per_request = self.period / (self.calls * self.share)
        value = max(self.min_interval, max(1, requests) * per_request)
        return min(self.max_interval, value)

    def next_wake(self, now: float, interval: float) -> float:
        """Sleep until the next tick, or the earliest deadline if that comes first."""
        with self.lock:
            deadlines = [
                w.deadline for g in self.waiters.values() for w in g if w.deadline is not None
            ]
        if deadlines:
            interval = min(interval, max(0.0, min(deadlines) - now))
        return interval


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


def _fatal(exc: BaseException) -> bool:
    """An error no later tick can fix (bad token, no access): fail the waiters with it."""
    return isinstance(exc, CodegenError) and not exc.is_transient


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

    def _tick_plan(self) -> Generator[_Request, Any, int]:
        """One tick as a plan: yields the requests to make, receives their results.

        The sync and async watchers drive the same plan, so the batching logic lives once.
        """
        core = self._core
        tick = core.start_tick()
        requests, pages = 0, 0
        seen: set[int] = set()
        while True:
            page: Page[AgentRunResponse] = yield ("list", pages * core.page_size)
            requests, pages = requests + 1, pages + 1
            core.stats.list_requests += 1
            seen.update(r.id for r in page.items)
            watched = core.watched()
            _wake_all(core.apply((r for r in page.items if r.id in watched), tick))
            if not core.wants_next_page(page, pages):
                break
        for run_id in sorted(core.watched() - seen):
            run: AgentRunResponse | None = yield ("get", run_id)
            requests += 1
            core.stats.get_requests += 1
            if run is not None:  # None: the GET failed for this run alone
                _wake_all(core.apply([run], tick))
        return requests

    def _run_failed(self, run_id: int, exc: CodegenError) -> None:
        """A single GET failed: a transient error fails the tick (retried next tick); any
        other (unknown id, no access) fails only that run's waiters, not everyone's."""
        if exc.is_transient:
            raise exc
        _wake_all(self._core.fail_run(run_id, exc))

    def _after_tick(self, requests: int) -> float:
        core = self._core
        core.stats.ticks += 1
        interval = core.interval(requests)
        core.stats.last_interval = interval
        return core.next_wake(self._clock.now(), interval)


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

    def _tick(self) -> int:
        runs, plan = self._client.agent_runs, self._tick_plan()
        try:
            kind, arg = next(plan)
            while True:
                result: Any
                if kind == "list":
                    result = runs.list(skip=arg, limit=self._core.page_size)
                else:
                    try:
                        result = runs.get(arg)
                    except CodegenError as exc:
                        self._run_failed(arg, exc)
                        result = None
                kind, arg = plan.send(result)
        except StopIteration as done:
            return int(done.value)

    def _loop(self) -> None:
        core = self._core
        while True:
            with self._thread_lock:
                if not core.active:
                    self._thread = None
                    return
            requests = 0
            try:
                requests = self._tick()
            except BaseException as exc:  # keep waiters informed, never die silently
                core.stats.errors += 1
                if _fatal(exc) or not isinstance(exc, Exception):
                    _wake_all(core.fail_all(exc))
                    continue
                log.warning("watcher tick failed, retrying next tick: %s", exc)
            _wake_all(core.expire(self._clock.now()))
            _beat(core)
            if core.active:
                self._clock.sleep(self._after_tick(requests))


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

    async def _tick(self) -> int:
        runs, plan = self._client.agent_runs, self._tick_plan()
        try:
            kind, arg = next(plan)
            while True:
                result: Any
                if kind == "list":
                    result = await runs.list(skip=arg, limit=self._core.page_size)
                else:
                    try:
                        result = await runs.get(arg)
                    except CodegenError as exc:
                        self._run_failed(arg, exc)
                        result = None
                kind, arg = plan.send(result)
        except StopIteration as done:
            return int(done.value)

    async def _loop(self) -> None:
        core = self._core
        while core.active:
            requests = 0
            try:
                requests = await self._tick()
            except asyncio.CancelledError:
                _wake_all(core.fail_all(asyncio.CancelledError()))
                raise
            except Exception as exc:
                core.stats.errors += 1
                if _fatal(exc):
                    _wake_all(core.fail_all(exc))
                    continue
                log.warning("watcher tick failed, retrying next tick: %s", exc)
            _wake_all(core.expire(self._clock.now()))
            _beat(core)
            if core.active:
                await self._clock.asleep(self._after_tick(requests))
        self._task = None


# The seam codegen_graph._coordination builds the shared poller on (one org, many processes):
# a coordinated watcher adds proxy waiters to its core and wakes them like any other.
Waiter = _Waiter
WatchCore = _WatchCore
wake_all = _wake_all
