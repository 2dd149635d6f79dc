"""One poller per organisation: the batched watcher, shared by every process through Redis.

Every coordinated client's watcher registers the runs it waits for in a Redis sorted set
(``watch``: one member per run and client, scored by a heartbeat expiry, renewed each
tick). On each tick it then tries to take, or renew, the org's poller lease:

* the **leader** reads every registered run and adds a *proxy* waiter for each to its own
  watcher core, so its ordinary batched tick (one list page for many runs, single GETs for
  the rest, through the shared budget) polls them all; when a proxy's run is seen terminal
  the state is published to ``state:{id}`` with the number of the tick that fetched it;
* a **follower** makes no API request for its waits: it reads the published states of its
  runs and wakes the waiters whose registration came before the tick that fetched them
  (the tick counter plays the role the local tick number plays in
  :class:`~codegen_graph._watcher.WatchCore`: a state fetched before a wait began, say
  before a resume, wakes nobody).

The lease lives ``lease_ttl`` simulated seconds past its last renewal, so when the leader's
process dies another takes over within a few ticks; registrations are heartbeats, so the
waits of a dead process are dropped by themselves. If Redis stops answering, each watcher
polls its own runs as if alone (through the local fallback budget) and rejoins when Redis
answers again; no wait is lost either way.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import CodegenError
from .._watcher import AsyncRunWatcher, RunWatcher, Waiter, WatchCore, wake_all
from ..models import AgentRunResponse
from ._redis import CoordinationDown, OrgLink, now_ms

if TYPE_CHECKING:
    from redis import Redis

    from .._client import AsyncCodegenClient, CodegenClient

__all__ = ["AsyncCoordinatedRunWatcher", "CoordinatedRunWatcher", "PollerStats"]

#: Simulated seconds a registration outlives the tick that renewed it.
HEARTBEAT_TTL = 15.0
#: Simulated seconds a published state stays readable.
STATE_TTL = 600.0
#: Ticks a follower with nothing to wake may wait for the leader's next publication.
FOLLOWER_WAIT = 4


@dataclass
class _Proxy(Waiter):
    """A waiter the leader keeps for a run another process waits for."""


@dataclass
class PollerStats:
    """What the shared side of a watcher did (for tests and benchmarks)."""

    leader_ticks: int = 0
    follower_ticks: int = 0
    alone_ticks: int = 0
    takeovers: int = 0
    published: int = 0


class _Shared:
    """The Redis side of one coordinated watcher; the watchers drive it."""

    def __init__(self, link: OrgLink, core: WatchCore) -> None:
        self.link = link
        self.core = core
        self.proxies: dict[int, _Proxy] = {}
        self.registered: set[int] = set()
        self.history: deque[tuple[int, int]] = deque(maxlen=4096)  # (local tick, shared tick)
        self.pending: list[_Proxy] = []
        self.shared_tick = 0
        self.leader = False
        self.pubsub: Any = None
        self.closed = False
        self.stats = PollerStats()

    # -- local state ---------------------------------------------------------------------
    def local_ids(self) -> set[int]:
        with self.core.lock:
            return {
                run_id
                for run_id, group in self.core.waiters.items()
                if any(not isinstance(w, _Proxy) for w in group)
            }

    def drop_proxies(self) -> None:
        for proxy in self.proxies.values():
            self.core.discard(proxy)
        self.proxies.clear()
        self.pending.clear()

    def sync_proxies(self, remote: set[int]) -> None:
        for run_id in list(self.proxies):
            proxy = self.proxies[run_id]
            if run_id not in remote or proxy.done:
                self.core.discard(self.proxies.pop(run_id))
        for run_id in remote - set(self.proxies):
            proxy = _Proxy(run_id, None)
            proxy.wake = self._waker(proxy)
            self.proxies[run_id] = proxy
            self.core.add(proxy)

    def _waker(self, proxy: _Proxy) -> Callable[[], None]:
        # Reads ``self.pending`` when the proxy wakes, not when it was made: publish()
        # swaps the list each tick, and a proxy made ticks ago must land in this tick's.
        def wake() -> None:
            self.pending.append(proxy)

        return wake

    # -- Redis (blocking calls; the async watcher runs them in a thread) --------------------
    def register(self) -> None:
        """Renew this client's registrations; forget the runs it no longer waits for."""
        link, local = self.link, self.local_ids()
        gone = self.registered - local
        if not local and not gone:
            return
        key = link.key("watch")
        expiry = now_ms() + link.real_ms(HEARTBEAT_TTL)

        def op(r: Redis) -> None:
            pipe = r.pipeline(transaction=False)
            if local:
                pipe.zadd(key, {f"{i}|{link.member}": expiry for i in local})
            if gone:
                pipe.zrem(key, *(f"{i}|{link.member}" for i in gone))
            pipe.execute()

        link.call(op)
        self.registered = local

    def unregister_all(self) -> None:
        if not self.registered:
            return
        key, member = self.link.key("watch"), self.link.member
        ids, self.registered = self.registered, set()
        with suppress(CoordinationDown):
            self.link.call(lambda r: r.zrem(key, *(f"{i}|{member}" for i in ids)))

    def elect(self, lease_ttl: float) -> bool:
        """Take or renew the lease; ``True`` when this watcher polls for the org."""
        was = self.leader
        self.leader = self.link.hold_lease(lease_ttl)
        if self.leader and not was:
            self.stats.takeovers += 1
        return self.leader

    def begin_leader_tick(self) -> set[int]:
        """Every run some live process waits for; numbers the tick that will fetch them."""
        from redis.exceptions import ResponseError

        link = self.link
        key, tick_key = link.key("watch"), link.key("tick")

        def op(r: Redis) -> tuple[list[Any], int]:
            pipe = r.pipeline(transaction=False)
            pipe.zremrangebyscore(key, "-inf", now_ms())
            pipe.zrange(key, 0, -1)
            pipe.incr(tick_key)
            removed, members, tick = pipe.execute(raise_on_error=False)
            for result in (removed, members):
                if isinstance(result, Exception):
                    raise result
            if isinstance(tick, ResponseError):
                # Not a counter: restart it above any number it can have handed out (the
                # real milliseconds), so a follower never takes a new tick for an old one.
                link.malformed(tick_key, "the poller's tick counter (an integer)", "it is reset")
                tick = now_ms()
                r.set(tick_key, tick)
            return members, int(tick)

        members, self.shared_tick = link.call(op)
        return self._run_ids(key, members)

    def _run_ids(self, key: str, members: list[Any]) -> set[int]:
        """The run ids of the ``watch`` members (``"{run id}|{member}"``); others skipped."""
        ids: set[int] = set()
        for member in members:
            head, bar, _ = _text(member).partition("|")
            if head.isdigit() and bar:
                ids.add(int(head))
            else:
                self.link.malformed(key, 'only "{run id}|{member}" members (a watch set)')
        return ids

    def publish(self) -> None:
        """Publish the terminal states (or failures) the leader's last tick found."""
        pending, self.pending = self.pending, []
        docs: dict[str, str] = {}
        for proxy in pending:
            doc: dict[str, Any] = {"tick": self.shared_tick}
            if proxy.result is not None:
                doc["run"] = proxy.result.model_dump(mode="json")
            else:
                doc["error"] = True  # the followers read the run themselves to learn why
            docs[self.link.key("state", proxy.run_id)] = json.dumps(doc)
        if not docs:
            return
        ttl = self.link.real_ms(STATE_TTL)

        def op(r: Redis) -> None:
            pipe = r.pipeline(transaction=False)
            for key, value in docs.items():
                pipe.set(key, value, px=ttl)
            pipe.publish(self.link.key("published"), self.shared_tick)
            pipe.execute()

        self.link.call(op)
        self.stats.published += len(docs)

    def read(self, ids: list[int]) -> tuple[int | None, list[str | None]]:
        """The shared tick number now (``None`` if the counter is not one) and the published
        state of each of ``ids``."""
        link = self.link

        def op(r: Redis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            pipe.get(link.key("tick"))
            pipe.mget([link.key("state", i) for i in ids])
            return pipe.execute()

        tick, states = link.call(op)
        if tick is not None and not _text(tick).isdigit():
            link.malformed(link.key("tick"), "the poller's tick counter (an integer)")
            return None, list(states)
        return int(_text(tick or 0)), list(states)

    def await_published(self, seconds: float) -> bool:
        """Block up to ``seconds`` (clock) for the leader to publish; ``True`` if it did.

        Followers spend their time here instead of re-reading Redis every tick.
        """
        link = self.link

        def op(r: Redis) -> bool:
            if self.pubsub is None:
                self.pubsub = r.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                self.pubsub.subscribe(link.key("published"))
            got = self.pubsub.get_message(timeout=link.real_ms(seconds) / 1000.0)
            while got is not None and self.pubsub.get_message(timeout=0) is not None:
                pass  # drain: one read serves every publication so far
            return got is not None

        try:
            return link.call(op)
        except CoordinationDown:
            self.close_pubsub()
            raise

    def close_pubsub(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with suppress(Exception):
                pubsub.close()

    # -- decisions (no I/O) ----------------------------------------------------------------
    def local_tick_of(self, shared_tick: int) -> int | None:
        """The last local tick that started before shared tick ``shared_tick`` fetched."""
        found = None
        for local, seen in self.history:
            if seen < shared_tick:
                found = local
        return found

    def follow(
        self, tick: int, now_shared: int | None, ids: list[int], states: list[str | None]
    ) -> tuple[list[Waiter], list[int]]:
        """Apply published states; return (woken waiters, runs to read ourselves).

        ``now_shared`` ``None`` (an unreadable counter) adds no tick to the history: only
        states fetched after an earlier, readable tick can wake anyone.
        """
        if now_shared is not None:
            self.history.append((tick, now_shared))
        woken: list[Waiter] = []
        failed: list[int] = []
        for run_id, raw in zip(ids, states, strict=True):
            if raw is None:
                continue
            state = self._state(run_id, raw)
            if state is None:
                continue  # said once; the leader publishes again, or the wait times out
            fetched, run = state
            local = self.local_tick_of(fetched)
            if local is None:
                continue  # fetched before any of our waits began
            if run is not None:
                woken += self.core.apply([run], local)
            else:
                failed.append(run_id)
        return woken, failed

    def _state(self, run_id: int, raw: str) -> tuple[int, AgentRunResponse | None] | None:
        """A published state as ``(tick, run)`` (``run`` ``None``: the leader's GET failed,
        read it yourself); ``None`` for a value that is no such state (said once)."""
        try:
            doc = json.loads(raw)
            if isinstance(doc, dict) and type(doc.get("tick")) is int:
                if isinstance(doc.get("run"), dict):
                    run = AgentRunResponse.model_validate(doc["run"])
                    if run.id == run_id:
                        return doc["tick"], run
                elif doc.get("error") is True:
                    return doc["tick"], None
        except ValueError:  # not JSON, or not a run (pydantic's ValidationError)
            pass
        self.link.malformed(
            self.link.key("state", run_id), "a published run state (JSON written by the poller)"
        )
        return None


def _text(value: Any) -> str:
    """A value read from Redis as text (a client without ``decode_responses`` reads bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _CoordinatedMixin:
    _core: WatchCore
    _shared: _Shared
    _lease_ttl: float

    def _setup(self, link: OrgLink) -> None:
        self._shared = _Shared(link, self._core)
        self._lease_ttl = link.coordination.lease_ttl

    @property
    def poller(self) -> PollerStats:
        """What the shared side of this watcher did."""
        return self._shared.stats

    @property
    def is_leader(self) -> bool:
        """Whether this watcher polled for the whole org at its last tick."""
        return self._shared.leader

    def _prepare(self) -> str:
        """Before a tick: ``"leader"``, ``"follower"``, ``"idle"`` or ``"alone"`` (no Redis)."""
        shared = self._shared
        if shared.closed:  # the client left: never take the lease again
            shared.drop_proxies()
            return "idle"
        try:
            shared.register()
            ttl = self._lease_ttl + 2 * self._core.stats.last_interval
            if not shared.elect(ttl):
                shared.drop_proxies()
                return "follower"
            remote = shared.begin_leader_tick()
        except CoordinationDown:
            shared.leader = False
            shared.drop_proxies()
            return "alone"
        shared.sync_proxies(remote)
        if not self._core.active:
            shared.link.release_lease()
            shared.leader = False
            return "idle"
        return "leader"

    def _finish(self, role: str) -> None:
        """After a tick: publish what the leader found, drop finished registrations."""
        shared = self._shared
        try:
            if role == "leader":
                shared.publish()
            if role != "alone":
                shared.register()
        except CoordinationDown:
            shared.drop_proxies()

    def _follower_read(self) -> tuple[int, list[int], int | None, list[str | None]] | None:
        shared = self._shared
        tick = self._core.start_tick()
        ids = sorted(shared.local_ids())
        try:
            now_shared, states = shared.read(ids) if ids else (0, [])
        except CoordinationDown:
            return None
        return tick, ids, now_shared, states

    def _idle_wait(self) -> bool:
        """A follower with nothing to wake waits for the leader's next publication (up to
        :data:`FOLLOWER_WAIT` ticks) instead of re-reading Redis at every tick."""
        seconds = FOLLOWER_WAIT * self._core.interval(1)
        deadlines = self._core.next_wake(self._shared.link.clock.now(), seconds)
        try:
            return self._shared.await_published(deadlines)
        except CoordinationDown:
            return False

    def leave(self) -> None:
        """Forget this client's registrations and give up the lease (on ``close()``)."""
        self._shared.closed = True
        self._shared.unregister_all()
        self._shared.drop_proxies()
        self._shared.close_pubsub()
        self._shared.link.release_lease()


class CoordinatedRunWatcher(_CoordinatedMixin, RunWatcher):
    """A :class:`~codegen_graph.RunWatcher` that polls once for the whole org (see module)."""

    def __init__(self, client: CodegenClient, link: OrgLink, **options: Any) -> None:
        super().__init__(client, **options)
        self._setup(link)

    def _tick(self) -> int:
        role = self._prepare()
        try:
            if role == "leader":
                self._shared.stats.leader_ticks += 1
                return super()._tick()
            if role == "alone":
                self._shared.stats.alone_ticks += 1
                return super()._tick()
            if role == "follower":
                self._shared.stats.follower_ticks += 1
                return self._follow()
            return 0
        finally:
            self._finish(role)

    def _follow(self) -> int:
        read = self._follower_read()
        if read is None:  # Redis went away between two calls: poll alone this tick
            return super()._tick()
        tick, ids, now_shared, states = read
        woken, failed = self._shared.follow(tick, now_shared, ids, states)
        if not woken and not failed and self._idle_wait():
            read = self._follower_read()
            if read is not None:
                tick, ids, now_shared, states = read
                woken, failed = self._shared.follow(tick, now_shared, ids, states)
        wake_all(woken)
        for run_id in failed:
            try:
                wake_all(self._core.apply([self._client.agent_runs.get(run_id)], tick))
            except CodegenError as exc:
                self._run_failed(run_id, exc)
        return len(failed)


class AsyncCoordinatedRunWatcher(_CoordinatedMixin, AsyncRunWatcher):
    """The async twin of :class:`CoordinatedRunWatcher` (Redis calls run in a thread)."""

    def __init__(self, client: AsyncCodegenClient, link: OrgLink, **options: Any) -> None:
        super().__init__(client, **options)
        self._setup(link)

    async def _tick(self) -> int:
        role = await asyncio.to_thread(self._prepare)
        try:
            if role in ("leader", "alone"):
                if role == "leader":
                    self._shared.stats.leader_ticks += 1
                else:
                    self._shared.stats.alone_ticks += 1
                return await super()._tick()
            if role == "follower":
                self._shared.stats.follower_ticks += 1
                return await self._follow()
            return 0
        finally:
            await asyncio.to_thread(self._finish, role)

    async def _follow(self) -> int:
        read = await asyncio.to_thread(self._follower_read)
        if read is None:
            return await super()._tick()
        tick, ids, now_shared, states = read
        woken, failed = self._shared.follow(tick, now_shared, ids, states)
        if not woken and not failed and await asyncio.to_thread(self._idle_wait):
            read = await asyncio.to_thread(self._follower_read)
            if read is not None:
                tick, ids, now_shared, states = read
                woken, failed = self._shared.follow(tick, now_shared, ids, states)
        wake_all(woken)
        for run_id in failed:
            try:
                wake_all(self._core.apply([await self._client.agent_runs.get(run_id)], tick))
            except CodegenError as exc:
                self._run_failed(run_id, exc)
        return len(failed)
