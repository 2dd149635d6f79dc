"""One poller per organisation: the batched watcher, shared by every process through Redis.

Every coordinated client's watcher registers the runs it waits for in a Redis sorted set
(``watch``: one member per run and client, scored by a heartbeat expiry, renewed each
tick). On each tick it then tries to take, or renew, the org's poller lease:

* the **leader** reads every registered run and polls them all in its ordinary batched tick
  (one list page for many runs, single GETs for the rest, through the shared budget); each
  one seen terminal is published to ``state:{id}`` with the number of the tick that
  fetched it;
* a **follower** makes no API request for its waits: it reads the published states of its
  runs and wakes the waiters whose registration came before the tick that fetched them
  (the tick counter plays the role the local tick number plays in
  :class:`~codegen_graph._watch.WatchCore`: a state fetched before a wait began, say
  before a resume, wakes nobody).

:class:`SharedPoller` implements the client core's
:class:`~codegen_graph._shared.PollSource`; the watcher drives it and knows nothing of
Redis.

The lease lives ``lease_ttl`` simulated seconds past its last renewal, so when the leader's
process dies another takes over within a few ticks; registrations are heartbeats, so the
waits of a dead process are dropped by themselves. If Redis stops answering, each watcher
polls its own runs as if alone (through the local fallback budget) and rejoins when Redis
answers again; no wait is lost either way.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._shared import Role, Turn
from ..models import AgentRunResponse
from ._base import CoordinationDown, now_ms

if TYPE_CHECKING:
    from redis import Redis

    from ._redis import OrgLink

__all__ = ["PollerStats", "SharedPoller"]

#: Simulated seconds a registration outlives the tick that renewed it.
HEARTBEAT_TTL = 15.0
#: Simulated seconds a published state stays readable.
STATE_TTL = 600.0


@dataclass
class PollerStats:
    """What the shared side of a watcher did (for tests and benchmarks)."""

    leader_ticks: int = 0
    follower_ticks: int = 0
    alone_ticks: int = 0
    takeovers: int = 0
    published: int = 0


class SharedPoller:
    """One watcher's part in the org's poller (a :class:`~codegen_graph._shared.PollSource`).

    Blocking Redis calls throughout: the async watcher runs them in a thread.
    """

    def __init__(self, link: OrgLink) -> None:
        self.link = link
        self.local: set[int] = set()
        self.registered: set[int] = set()
        self.history: deque[tuple[int, int]] = deque(maxlen=4096)  # (local tick, shared tick)
        self.shared_tick = 0
        self.leader = False
        self.pubsub: Any = None
        self.closed = False
        self.stats = PollerStats()

    # -- the PollSource protocol -------------------------------------------------------------
    def turn(self, local: set[int], lease_ttl: float) -> Turn:
        """Register this watcher's runs and decide its role for this tick."""
        self.local = set(local)
        if self.closed:  # the client left: never take the lease again
            return Turn("idle")
        try:
            self.register()
            if not self.elect(lease_ttl):
                self.stats.follower_ticks += 1
                return Turn("follower")
            remote = self.begin_leader_tick()
        except CoordinationDown:
            self.leader = False
            self.stats.alone_ticks += 1
            return Turn("alone")
        if not self.local and not remote:
            self.link.release_lease()
            self.leader = False
            return Turn("idle")
        self.stats.leader_ticks += 1
        return Turn("leader", frozenset(remote))

    def finish(self, role: Role) -> None:
        """After a tick: renew the registrations (dropping the runs no longer waited for)."""
        if role in ("alone", "idle"):
            return
        with suppress(CoordinationDown):
            self.register()

    def leave(self) -> None:
        """Forget this watcher's registrations and give up the lease (on ``close()``)."""
        self.closed = True
        self.local = set()
        self.unregister_all()
        self.close_pubsub()
        self.link.release_lease()

    def follow(
        self, local_tick: int, ids: list[int]
    ) -> list[tuple[int, int, AgentRunResponse | None]] | None:
        """The published states of ``ids``, each with the local tick whose waiters it may
        wake (``None`` state: read the run yourself); ``None`` when Redis is down."""
        try:
            now_shared, states = self.read(ids) if ids else (0, [])
        except CoordinationDown:
            return None
        return self.decode(local_tick, now_shared, ids, states)

    def decode(
        self, local_tick: int, now_shared: int | None, ids: list[int], states: list[str | None]
    ) -> list[tuple[int, int, AgentRunResponse | None]]:
        """:meth:`follow` without Redis: which published states may wake which waiters."""
        if now_shared is not None:  # an unreadable counter adds no tick to the history
            self.history.append((local_tick, now_shared))
        found: list[tuple[int, int, AgentRunResponse | None]] = []
        for run_id, raw in zip(ids, states, strict=True):
            state = None if raw is None else self._state(run_id, raw)
            if state is None:
                continue  # nothing yet, or unreadable (said once): the leader publishes again
            fetched, run = state
            local = self.local_tick_of(fetched)
            if local is not None:  # fetched after one of our waits began
                found.append((run_id, local, run))
        return found

    def publish(self, done: Mapping[int, AgentRunResponse | None]) -> None:
        """Publish the terminal states (``None``: the read failed) the leader's tick found."""
        docs: dict[str, str] = {}
        for run_id, run in done.items():
            doc: dict[str, Any] = {"tick": self.shared_tick}
            if run is not None:
                doc["run"] = run.model_dump(mode="json")
            else:
                doc["error"] = True  # the followers read the run themselves to learn why
            docs[self.link.key("state", run_id)] = json.dumps(doc)
        ttl = self.link.real_ms(STATE_TTL)

        def op(r: Redis) -> None:
            pipe = r.pipeline(transaction=False)
            for key, value in docs.items():
                pipe.set(key, value, px=ttl)
            pipe.publish(self.link.key("published"), self.shared_tick)
            pipe.execute()

        with suppress(CoordinationDown):
            self.link.call(op)
            self.stats.published += len(docs)

    # -- Redis ----------------------------------------------------------------------------
    def register(self) -> None:
        """Renew this client's registrations; forget the runs it no longer waits for."""
        link, local = self.link, self.local
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
        self.registered = set(local)

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
                self.pubsub = r.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(link.key("published"))
            got = self.pubsub.get_message(timeout=link.real_ms(seconds) / 1000.0)
            while got is not None and self.pubsub.get_message(timeout=0) is not None:
                pass  # drain: one read serves every publication so far
            return got is not None

        try:
            return link.call(op)
        except CoordinationDown:
            self.close_pubsub()
            return False

    def close_pubsub(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with suppress(Exception):
                pubsub.close()

    # -- decisions (no I/O) ----------------------------------------------------------------
    # -- decisions (no I/O) ----------------------------------------------------------------
    def local_tick_of(self, shared_tick: int) -> int | None:
        """The last local tick that started before shared tick ``shared_tick`` fetched."""
        found = None
        for local, seen in self.history:
            if seen < shared_tick:
                found = local
        return found

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
