"""One batched status watcher per client, as one straight loop.

The API has no webhooks and no streaming, so every waiting run must be polled. Polling each
run on its own (``GET /agent/run/{id}`` every 2 s) spends the standard budget (60 requests
per 30 s) on four runs. The watcher instead refreshes *every* waiting run with as few
requests as it can, each tick:

1. ``GET /agent/runs`` pages (limit 100, newest first) from the first one down, each
   refreshing every waiting run on it. A next page is read only while a waiting run is
   still missing *and older* than the page's last run, and only while that is cheaper than
   single GETs (a run's position is remembered from the page it was last found on, shifted
   by the runs created since). Pages are read item by item: another's run that does not
   match the model is skipped, never a reason to stop.
2. Runs still missing (or unreadable in the list) are fetched with single ``GET`` requests.

**Pacing.** Every request of the watcher is spaced by ``period / (calls * share)`` seconds
of the standard budget (0.646 s at the defaults: 80% of 60 per 31 s), inside a tick as well
as between ticks; the client's rate limiter stays a last line of defence.

**A poll failure is not a run failure.** The watcher polls without the client's retries
and decides itself when to poll again: a 5xx, a dropped connection, a 429, an open circuit
or a malformed page costs a tick (the next one after the client's backoff, the
``Retry-After`` or the circuit's half-open time), never a waiter. A waiter ends only by its
run's terminal state, its own deadline, an error about *its* run (one no later read can
fix on its GET: a 404, a 403, any 4xx but 408, 409 and 429, a plugin's veto of its text;
or :data:`~codegen_graph._watch.MALFORMED_READS` answers in a row to its GET that do not
match the model: ``ResponseValidationError``), the API's refusal of the list or a 401
anywhere (every wait: no later tick can fix it), or the client closing
(:class:`~codegen_graph.ClientClosedError`, at once). A list page that fails otherwise
(malformed, vetoed) makes the tick read the runs by id. A log stream decides the same way
(:func:`~codegen_graph._watch.ends_waits`).

**Deadlines** are kept on the client's clock: every sleep is cut into slices of at most
:data:`SLICE` seconds, and waiters expire between slices and between requests, so
``wait(timeout=T)`` raises within ``T + 1`` s. With no waiter the loop stops.

**Several processes** (a :class:`~codegen_graph._shared.PollSource`, e.g. Redis): each tick
the source says whether this watcher polls for the whole org (it then also polls the runs
other processes wait for, and publishes their terminal states), follows the one that does
(no request of its own), or polls alone (the source is down).
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from .._checks import check_timeout
from .._concurrency import AsyncBackground, AsyncEvent, async_offload
from .._exceptions import (
    AuthenticationError,
    ClientClosedError,
    CodegenError,
    RateLimitError,
)
from .._retry import pause_for
from .._shared import Turn
from .._specs import get_run, list_runs
from .._watch import (
    Waiter,
    WatchCore,
    WatcherStats,
    about_one_run,
    beat,
    ends_every_wait,
    standard_budget,
    wake_all,
)
from ..models import AgentRunResponse
from .requester import AsyncRequester

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._shared import PollSource

__all__ = ["AsyncRunWatcher"]

log = logging.getLogger("codegen_graph.watcher")

#: The longest single sleep of the watcher: deadlines are checked at least this often.
SLICE = 0.5
#: Seconds of nothing but failed polls after which the watcher says so once at WARNING.
WARN_AFTER = 300.0
#: Ticks a follower with nothing to wake may wait for the leader's next publication.
FOLLOWER_WAIT = 4


class AsyncRunWatcher:
    """The batched watcher of a client (``client.watcher``, made on first use)."""

    def __init__(
        self,
        api: AsyncRequester,
        *,
        share: float = 0.8,
        min_interval: float = 0.25,
        max_interval: float = 30.0,
        page_size: int = 100,
        max_pages: int = 3,
        poll_source: PollSource | None = None,
    ) -> None:
        self._api = api
        self._clock = api.clock
        self._core = WatchCore(
            budget=standard_budget(api.rate_budgets),
            share=share,
            min_interval=min_interval,
            max_interval=max_interval,
            page_size=page_size,
            max_pages=max_pages,
        )
        self._source = poll_source
        self._runner = AsyncBackground("codegen-graph-watcher")
        self._random = random.Random()
        self._next_request = float("-inf")  # clock time the next request may go out
        self._failures = 0  # consecutive failed polls
        self._failing_since: float | None = None
        self._warned = False

    @property
    def stats(self) -> WatcherStats:
        return self._core.stats

    @property
    def poller(self) -> Any:
        """What the shared poller did for this watcher (``None`` without coordination)."""
        return getattr(self._source, "stats", None)

    @property
    def is_leader(self) -> bool:
        """Whether this watcher polled for the whole org at its last tick."""
        return bool(getattr(self._source, "leader", False))

    @property
    def watching(self) -> set[int]:
        """Ids of the runs that currently have a waiter."""
        return self._core.watched()

    def latest(self, run_id: int) -> AgentRunResponse | None:
        """The freshest state seen of a run that is being waited for."""
        with self._core.lock:
            return self._core.latest.get(run_id)

    def notify(self, run: AgentRunResponse) -> None:
        """Feed a run state from a push source; waiters on a terminal run wake at once."""
        self._core.stats.notified += 1
        wake_all(self._core.apply([run]))

    async def wait_for(
        self,
        run_id: int,
        *,
        timeout: float | None = None,
        on_tick: Callable[[], None] | None = None,
        known: AgentRunResponse | None = None,
    ) -> AgentRunResponse:
        """Wait until run ``run_id`` is terminal; return its final state.

        ``on_tick`` is called after every tick while this waits (a liveness signal).
        ``known`` is the run's state as the caller last saw it: the timeout error carries it
        when the deadline passes before the watcher has read the run.

        Raises:
            RunTimeoutError: ``timeout`` (clock seconds) passed first.
            NotFoundError, PermissionDeniedError: the run cannot be read.
            AuthenticationError: the token was rejected.
            ClientClosedError: the client was closed.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else self._clock.now() + timeout
        event = AsyncEvent()
        waiter = Waiter(run_id, deadline, wake=event.set, on_tick=on_tick, known=known)
        self._core.add(waiter)
        if not waiter.done:
            self._runner.ensure(self._loop)
            try:
                await event.wait()
            finally:
                self._core.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        assert waiter.result is not None
        return waiter.result

    async def aclose(self) -> None:
        """End every wait with :class:`~codegen_graph.ClientClosedError` (and every later
        one), stop polling, and leave the shared poller."""
        error = ClientClosedError("the client was closed while this wait went on")
        wake_all(self._core.fail_all(error, close=True))
        if self._source is not None:
            await async_offload(self._source.leave)

    # -- the loop -----------------------------------------------------------------------------
    async def _loop(self) -> None:
        core = self._core
        try:
            while not self._runner.stop_unless(lambda: core.active):
                started = self._clock.now()
                try:
                    requests = await self._tick()
                except Exception as exc:  # a failed poll costs a tick, never a waiter
                    requests = 0
                    self._poll_failed(exc, everyone=True)
                core.stats.ticks += 1
                core.stats.last_interval = core.interval(requests)
                wake_all(core.expire(self._clock.now()))
                beat(core)  # a failed poll is a tick too: the waits are alive
                await self._pause_until(started + core.interval(requests))
        except BaseException as exc:  # keep waiters informed, never die silently
            wake_all(core.fail_all(exc))
            self._runner.stop_unless(lambda: False)
            if not isinstance(exc, Exception):
                raise
            log.exception("watcher stopped")

    async def _tick(self) -> int:
        """One tick; returns the requests it made."""
        source = self._source
        if source is None:
            return await self._poll()
        lease = self._api.coordination.lease_ttl if self._api.coordination else 5.0
        ttl = lease + 2 * self._core.stats.last_interval
        turn: Turn = await async_offload(source.turn, self._core.watched(), ttl)
        try:
            if turn.role == "follower":
                return await self._follow(source)
            if turn.role == "leader":
                return await self._lead(source, turn.remote)
            if turn.role == "alone":
                return await self._poll()
            return 0
        finally:
            await async_offload(source.finish, turn.role)

    async def _lead(self, source: PollSource, remote: frozenset[int]) -> int:
        """Poll for the whole org: ours and ``remote``; publish what ended of ``remote``."""
        proxies = [Waiter(run_id, None) for run_id in sorted(remote)]
        for proxy in proxies:
            self._core.add(proxy)
        try:
            requests = await self._poll()
            # A run this tick could not read (a malformed answer): its own waiters read it
            # themselves and count the failures (a proxy lives one tick, so cannot).
            unreadable = self._core.unreadable(p.run_id for p in proxies if not p.done)
        finally:
            for proxy in proxies:
                self._core.discard(proxy)
        done = {p.run_id: p.result for p in proxies if p.done}
        done.update(dict.fromkeys(unreadable))
        if done:
            await async_offload(source.publish, done)
        return requests

    async def _follow(self, source: PollSource) -> int:
        """Read what the leader published; wait for its next publication if nothing."""
        core = self._core
        got = await async_offload(source.follow, core.start_tick(), sorted(core.watched()))
        if got is None:  # the store went away between two calls: poll alone this tick
            return await self._poll()
        if not got and await async_offload(source.await_published, self._follower_wait()):
            got = await async_offload(source.follow, core.start_tick(), sorted(core.watched()))
        requests = 0
        for run_id, tick, run in got or ():
            try:
                if run is None:  # the leader could not read it: read it ourselves
                    requests += 1
                    run = await self._get(run_id)
                else:  # read by the leader, through its filters: now ours too
                    run = self._api.hooks.filtered(run)
            except CodegenError as exc:
                ended = core.read_failed(run_id, exc)
                if ended is None:
                    raise
                wake_all(ended)
                continue
            wake_all(core.apply([run], tick))
        return requests

    def _follower_wait(self) -> float:
        seconds = FOLLOWER_WAIT * self._core.interval(1)
        return self._core.next_wake(self._clock.now(), seconds)

    async def _get(self, run_id: int) -> AgentRunResponse:
        self._core.stats.get_requests += 1
        return await self._api.request(get_run(self._api.org_id, run_id, max_retries=0))

    async def _poll(self) -> int:
        """List pages while worth it, then single GETs; returns the requests made."""
        core, api = self._core, self._api
        tick = core.start_tick()
        requests, pages = 0, 0
        seen: set[int] = set()
        while True:
            if not await self._before_request():
                return requests
            skip, sent = pages * core.page_size, self._clock.now()
            requests, pages = requests + 1, pages + 1
            core.stats.list_requests += 1
            try:
                spec = list_runs(api.org_id, skip, core.page_size, max_retries=0)
                page = await api.request(spec)
            except Exception as exc:
                self._sent(sent)
                if not about_one_run(exc):
                    self._poll_failed(exc, everyone=True)
                    return requests
                core.stats.errors += 1  # e.g. a malformed page: read the runs by id this tick
                log.info("watcher: a run list page could not be read (%s); reading by id", exc)
                break
            self._sent(sent)
            self._recovered()
            core.learn(page, skip)
            seen.update(r.id for r in page.items)
            watched = core.watched()
            wake_all(core.apply((r for r in page.items if r.id in watched), tick))
            if not core.wants_next_page(page, pages, seen):
                break
        for run_id in sorted(core.watched() - seen):
            if not core.is_watched(run_id):
                continue  # its waiters left (deadline) while this tick went on
            if not await self._before_request():
                return requests
            sent = self._clock.now()
            requests += 1
            try:
                run = await self._get(run_id)
            except Exception as exc:
                self._sent(sent)
                ended = core.read_failed(run_id, exc)
                if ended is None:
                    self._poll_failed(exc, everyone=False)
                    return requests
                wake_all(ended)  # about this run only: the other runs' reads go on
                continue
            self._sent(sent)
            self._recovered()
            wake_all(core.apply([run], tick))
        return requests

    async def _pause_until(self, until: float) -> bool:
        """Sleep until ``until`` in slices, expiring waiters between; ``False`` if nobody
        waits any more."""
        core, clock = self._core, self._clock
        while True:
            now = clock.now()
            wake_all(core.expire(now))
            if not core.active:
                return False
            if now >= until:
                return True
            await clock.asleep(core.next_wake(now, min(until - now, SLICE)))

    async def _before_request(self) -> bool:
        """Wait for the watcher's next request slot (and the client's budget, so the
        request itself never sleeps where deadlines cannot interrupt it)."""
        until = max(self._next_request, self._api.rate_budgets.next_free_at("standard"))
        return await self._pause_until(until)

    def _sent(self, at: float) -> None:
        """A request went out at ``at``: the next one may go ``spacing`` later (from the
        send, not the answer; +1 us so float rounding never packs one too many)."""
        self._next_request = max(self._next_request, at + self._core.spacing + 1e-6)

    def _recovered(self) -> None:
        self._failures, self._failing_since, self._warned = 0, None, False

    def _poll_failed(self, exc: BaseException, *, everyone: bool) -> None:
        """A poll failed: fail the waiters only if no later tick can fix it; else pause."""
        core, clock = self._core, self._clock
        core.stats.errors += 1
        if not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt, cancellation: the loop fails the waiters
        if isinstance(exc, ClientClosedError):  # closed: every wait ends now
            wake_all(core.fail_all(exc, close=True))
            return
        if isinstance(exc, AuthenticationError) or (everyone and ends_every_wait(exc)):
            log.warning("watcher: %s; every wait on this client fails with it", exc)
            wake_all(core.fail_all(exc))
            return
        self._failures += 1
        now = clock.now()
        if self._failing_since is None:
            self._failing_since = now
        if isinstance(exc, CodegenError):
            pause = pause_for(
                exc, self._failures, self._api.retry, now=now, rand=self._random.random
            )
        else:  # not ours to classify (a bug?): keep waiting, but say so
            pause = core.spacing * 2 ** min(self._failures, 6)
            log.warning(
                "watcher: unexpected %s; polling again in %.1fs",
                type(exc).__name__,
                pause,
                exc_info=exc,
            )
        if not self._warned and now - self._failing_since >= WARN_AFTER:
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
                self._api.rate_budgets.hold("standard", now + pause)
            core.stats.paused += pause
            self._next_request = max(self._next_request, now + pause)
