"""The Redis connection, its health, and what one client shares through it (:class:`OrgLink`).

Times in Redis are real (wall-clock) milliseconds (:func:`now_ms`), read on each process: a
simulated clock (:class:`~codegen_graph.ScaledClock`) is mapped onto real time by its
``scale``, so budgets, leases and heartbeats mean the same in every process whatever their
clocks' epochs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from .._exceptions import ConfigurationError
from .._redact import mask_url
from .._shared import REDIS_URL_ENV_VAR
from ..clock import Clock, SystemClock
from ._base import CoordinationDown, now_ms
from ._budget import SharedBudgets
from ._poller import SharedPoller

if TYPE_CHECKING:
    from redis import Redis

    from .._config import RateBudgets
    from .._shared import PollSource

__all__ = ["REDIS_URL_ENV_VAR", "Coordination", "CoordinationDown", "OrgLink", "now_ms"]

log = logging.getLogger("codegen_graph.coordination")


T = TypeVar("T")


# Compare-and-delete / compare-and-extend: only the owner releases or renews what it holds.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# A key claim is only ever renewed, never created: a claim released (or expired) between
# the renewer's snapshot and its call must stay released, or it blocks the next owner.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# The poller's lease is taken or renewed in one step (whoever holds none takes it).
_EXTEND = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2
end
return 0
"""
# A key claim: take it if free. Both scripts also take over a key without an expiry: every
# lease and claim is written with one, so such a key was written by something else and would
# otherwise block the org's polling, or every create of that key, forever (returns 2).
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2
end
return 0
"""
#: What a lease or claim key should hold, for the warning about one that never expires.
_OWNER = "an owner with an expiry (a lease or claim codegen-graph wrote)"


def clock_scale(clock: Clock) -> float:
    """Simulated seconds per real second of ``clock``; coordination needs a clock that runs."""
    if isinstance(clock, SystemClock):
        return 1.0
    scale = getattr(clock, "scale", None)
    if isinstance(scale, (int, float)) and scale > 0:
        return float(scale)
    raise ConfigurationError(
        f"coordination=... needs a clock that runs in real time (SystemClock, ScaledClock), "
        f"not {type(clock).__name__}: other processes cannot share its time"
    )


class Coordination:
    """Share rate budgets, the run poller and keyed creates between processes, via Redis.

    Args:
        url: a ``redis://`` (or ``rediss://``, ``unix://``) URL; default
            ``CODEGEN_REDIS_URL``.
        prefix: the namespace of every key written (one per deployment).
        fallback_share: while Redis is unreachable each process spends at most this share
            of every org budget on its own (default ``0.25``: four processes stay within
            the org's limits).
        lease_ttl: simulated seconds a poller's lease outlives its last renewal (the
            takeover time when its process dies without releasing it).
        probe_interval: simulated seconds between reconnection attempts while Redis is down.
        redis_client: an existing ``redis.Redis`` to use instead of connecting to ``url``.

    Raises:
        ConfigurationError: no URL, the ``redis`` package is missing, or Redis does not
            answer now (a deployment whose Redis never answered is misconfigured; one
            that goes away later is handled by the local fallback).

    Examples:
        >>> from codegen_graph import CodegenClient, Coordination  # doctest: +SKIP
        >>> shared = Coordination("redis://127.0.0.1:6379/0")  # doctest: +SKIP
        >>> client = CodegenClient(coordination=shared)  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "codegen-graph",
        fallback_share: float = 0.25,
        lease_ttl: float = 5.0,
        probe_interval: float = 2.0,
        redis_client: Redis | None = None,
    ) -> None:
        if not 0 < fallback_share <= 1:
            raise ConfigurationError("Coordination(fallback_share=...) must be in (0, 1]")
        if lease_ttl <= 0 or probe_interval <= 0:
            raise ConfigurationError("Coordination lease_ttl and probe_interval must be > 0")
        if not prefix or any(c.isspace() for c in prefix):
            raise ConfigurationError("Coordination(prefix=...) must be a non-empty word")
        self.prefix = prefix
        self.fallback_share = fallback_share
        self.lease_ttl = lease_ttl
        self.probe_interval = probe_interval
        url = url or os.environ.get(REDIS_URL_ENV_VAR) or None
        if redis_client is None and url is None:
            raise ConfigurationError(
                f"Coordination() needs a Redis URL: pass url=... or set {REDIS_URL_ENV_VAR}"
            )
        self._where = mask_url(url) if url else repr(redis_client)
        self.redis = redis_client if redis_client is not None else _connect(url or "")
        self._lock = threading.Lock()
        self._down = False
        self._next_probe = 0.0
        self._probe_seconds = 0.05
        self._held: dict[str, tuple[str, int]] = {}
        self._malformed: set[str] = set()
        self._renewer: threading.Thread | None = None
        try:
            self.redis.ping()
        except Exception as exc:
            raise ConfigurationError(
                f"Redis at {self._where} does not answer ({type(exc).__name__}); check "
                f"{REDIS_URL_ENV_VAR} or coordination=..., or leave coordination off"
            ) from None

    def __repr__(self) -> str:
        state = "down" if self._down else "up"
        return f"Coordination({self._where}, prefix={self.prefix!r}, {state})"

    def hold(self, key: str, member: str, ttl_ms: int) -> None:
        """Keep ``key`` (owned by ``member``) alive until :meth:`unhold`, renewing it from a
        daemon thread every third of ``ttl_ms``; if this process dies, it expires. A renewal
        only extends the key while it still holds ``member``: it never re-creates a key
        that was released or expired meanwhile."""
        with self._lock:
            self._held[key] = (member, ttl_ms)
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(
                    target=self._renew, name="codegen-graph-claims", daemon=True
                )
                self._renewer.start()

    def unhold(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)

    def _renew(self) -> None:
        while True:
            with self._lock:
                held = dict(self._held)
                if not held:
                    self._renewer = None
                    return
            for key, (member, ms) in held.items():
                with suppress(CoordinationDown):
                    self.call(lambda r, k=key, m=member, t=ms: r.eval(_RENEW, 1, k, m, t))  # type: ignore[misc]
            time.sleep(min(ms for _, ms in held.values()) / 3000.0)

    def malformed(self, key: str, what: str, done: str = "it is ignored") -> None:
        """Say once per key, at WARNING, that ``key`` holds a value this package cannot read
        (``what`` it should hold; ``done``: what the caller does about it, by default skip
        the value as if it were not there). The value itself is never shown: it may be
        anything, a secret included."""
        with self._lock:
            if key in self._malformed:
                return
            self._malformed.add(key)
        log.warning(
            "Redis key %s does not hold %s; %s and the waits go on. Delete the key if this "
            "repeats, and make sure nothing else writes under the prefix %r",
            key,
            what,
            done,
            self.prefix,
        )

    @property
    def available(self) -> bool:
        """Whether Redis answered the last call (``False`` while on the local fallback)."""
        return not self._down

    def call(self, op: Callable[[Redis], T]) -> T:
        """Run ``op`` against Redis; raise :class:`CoordinationDown` if it does not answer.

        While Redis is down, calls fail at once until the next probe is due, so a dead
        Redis costs nothing on the hot path.
        """
        from redis.exceptions import RedisError

        if self._down and time.monotonic() < self._next_probe:
            raise CoordinationDown
        try:
            result = op(self.redis)
        except (RedisError, OSError) as exc:
            self._mark_down(exc)
            raise CoordinationDown from None
        if self._down:
            self._mark_up()
        return result

    def _mark_down(self, exc: BaseException) -> None:
        with self._lock:
            self._next_probe = time.monotonic() + self._probe_seconds
            if self._down:
                return
            self._down = True
        log.warning(
            "Redis at %s stopped answering (%s): each process goes on alone on %g of every "
            "org budget until it is back",
            self._where,
            type(exc).__name__,
            self.fallback_share,
        )

    def _mark_up(self) -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        log.warning("Redis at %s answers again: budgets and polling are shared again", self._where)

    def link(self, org_id: int, base_url: str, clock: Clock) -> OrgLink:
        """What one client shares: its org's namespace on its clock (used by the client)."""
        return OrgLink(self, org_id, base_url, clock)


def _connect(url: str) -> Redis:
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:
        raise ConfigurationError(
            "coordination needs the redis package: install the redis extra "
            "(from a checkout: pip install '.[redis]')"
        ) from None
    try:
        client: Redis = redis.Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
    except ValueError as exc:
        raise ConfigurationError(f"Bad Redis URL {mask_url(url)}: {exc}") from None
    return client


class OrgLink:
    """One client's view of the coordination: its org's keys, its clock, its member id.

    ``ns`` names every key (prefix, a hash of the API's base URL, the org id), so one Redis
    can serve several orgs and APIs. Durations given in the client's (simulated) seconds are
    turned into real milliseconds with :meth:`real_ms`.
    """

    def __init__(self, coordination: Coordination, org_id: int, base_url: str, clock: Clock):
        self.coordination = coordination
        self.clock = clock
        self.scale = clock_scale(clock)
        api = hashlib.sha256(base_url.encode()).hexdigest()[:10]
        self.ns = f"{coordination.prefix}:{api}:{org_id}"
        self.member = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        coordination._probe_seconds = max(0.02, coordination.probe_interval / self.scale)

    def __repr__(self) -> str:
        return f"OrgLink({self.ns!r}, member={self.member!r})"

    def key(self, *parts: object) -> str:
        return ":".join([self.ns, *(str(p) for p in parts)])

    def real_ms(self, seconds: float) -> int:
        """``seconds`` of the client's clock in real milliseconds (at least 1)."""
        return max(1, round(seconds * 1000.0 / self.scale))

    def call(self, op: Callable[[Redis], T]) -> T:
        return self.coordination.call(op)

    def malformed(self, key: str, what: str, done: str = "it is ignored") -> None:
        self.coordination.malformed(key, what, done)

    @property
    def available(self) -> bool:
        return self.coordination.available

    def budgets(self, budgets: RateBudgets) -> SharedBudgets:
        """The shared store of the client's rate budgets."""
        return SharedBudgets(self, budgets)

    # -- the poller's lease ---------------------------------------------------------------
    def hold_lease(self, ttl: float) -> bool:
        """Take or renew the org's poller lease for ``ttl`` clock seconds; ``True`` if ours."""
        ms, key = self.real_ms(ttl), self.key("lease")
        got = self.call(lambda r: r.eval(_EXTEND, 1, key, self.member, ms))
        if got == 2:
            self.malformed(key, _OWNER, "it is taken over")
        return bool(got)

    def release_lease(self) -> None:
        """Give the lease up (if ours), so another process takes over at once."""
        with suppress(CoordinationDown):
            self.call(lambda r: r.eval(_RELEASE, 1, self.key("lease"), self.member))

    # -- keyed creates -------------------------------------------------------------------
    def claim(self, key: str, *, ttl: float = 30.0) -> KeyClaim:
        """The org-wide claim on idempotency key ``key`` (the client's keyed path drives
        it: ``step`` until held, ``record`` the run, ``release``)."""
        return KeyClaim(self, key, ttl)

    @contextmanager
    def key_claim(self, key: str, *, ttl: float = 30.0) -> Iterator[KeyClaim]:
        """Hold :meth:`claim` around a block, waiting on the client's clock while another
        process holds it; a no-op while Redis is down."""
        claim = KeyClaim(self, key, ttl)
        try:  # an interrupt right after acquiring still releases (release() is idempotent)
            while not claim.step():
                self.clock.sleep(0.25)
            yield claim
        finally:
            claim.release()

    # -- the poller -------------------------------------------------------------------------
    @property
    def lease_ttl(self) -> float:
        return self.coordination.lease_ttl

    def poll_source(self) -> PollSource:
        """The org's one poller, as this client's watcher takes part in it."""
        return SharedPoller(self)


class KeyClaim:
    """One process's hold on one idempotency key (see :meth:`OrgLink.key_claim`)."""

    #: How long a record of ``key -> run id`` is kept (real seconds): a week.
    RECORD_SECONDS = 7 * 24 * 3600

    def __init__(self, link: OrgLink, key: str, ttl: float) -> None:
        self.link = link
        self.key = key
        self.ttl = ttl
        self.existing: int | None = None
        self.held = False
        self.down = False
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        self._lock_key = link.key("keylock", digest)
        self._record_key = link.key("key", digest)

    def step(self) -> bool:
        """One attempt: ``True`` when done (claim held, a record found, or Redis down:
        :attr:`down`)."""
        link = self.link
        self.down = False
        try:
            self.existing = self._recorded(link.call(lambda r: r.get(self._record_key)))
            if self.existing is not None:
                return True
            ms = link.real_ms(self.ttl)
            got = link.call(lambda r: r.eval(_CLAIM, 1, self._lock_key, link.member, ms))
            if got == 2:
                link.malformed(self._lock_key, _OWNER, "it is taken over")
            self.held = bool(got)
            if self.held:  # a record may have landed between the two calls
                link.coordination.hold(self._lock_key, link.member, ms)
                self.existing = self._recorded(link.call(lambda r: r.get(self._record_key)))
            return self.held
        except CoordinationDown:
            self.down = True
            return True

    def _recorded(self, value: Any) -> int | None:
        """The run id a record holds; ``None`` for no record or one that is not a run id
        (said once; the claim then goes on as if none were recorded, and the create's own
        lookup of the org's recent runs still finds a run made with the key)."""
        if value is None:
            return None
        try:
            run_id = int(value)
        except (TypeError, ValueError):
            run_id = 0
        if run_id > 0:
            return run_id
        self.link.malformed(self._record_key, "a run id (an idempotency key's record)")
        return None

    def confirm(self) -> bool | None:
        """Renew the claim just before the create, if this process still owns it (see
        :meth:`codegen_graph._shared.KeyClaim.confirm`). The claim expires when Redis stops
        answering long enough for its renewals to fail; another process may then have taken
        it and created the run while this one was still looking."""
        if not self.held:
            return True  # taken while Redis was down: nothing to confirm
        link = self.link
        try:
            ms = link.real_ms(self.ttl)
            owned = link.call(lambda r: r.eval(_RENEW, 1, self._lock_key, link.member, ms))
        except CoordinationDown:
            return None
        if not owned:
            self.held = False
            link.coordination.unhold(self._lock_key)
        return bool(owned)

    def record(self, run_id: int) -> None:
        """Remember that ``key`` created run ``run_id`` (other processes will find it)."""
        try:
            self.link.call(lambda r: r.set(self._record_key, run_id, ex=self.RECORD_SECONDS))
        except CoordinationDown:
            log.warning("could not record idempotency key in Redis (it is down)")

    def release(self) -> None:
        """Give the claim up (if held); safe to call twice."""
        if not self.held:
            return
        self.held = False
        self.link.coordination.unhold(self._lock_key)
        with suppress(CoordinationDown):
            self.link.call(lambda r: r.eval(_RELEASE, 1, self._lock_key, self.link.member))


def resolve_coordination(
    coordination: Coordination | str | bool | None,
) -> Coordination | None:
    """The client's ``coordination=`` argument as a :class:`Coordination`, or ``None``.

    ``None`` reads ``CODEGEN_REDIS_URL`` (off when unset); ``False`` is off; ``True`` needs
    the variable; a string is a Redis URL.
    """
    if coordination is False:
        return None
    if isinstance(coordination, Coordination):
        return coordination
    if isinstance(coordination, str):
        return _shared(coordination)
    env = os.environ.get(REDIS_URL_ENV_VAR, "").strip()
    if coordination is True and not env:
        raise ConfigurationError(f"coordination=True needs {REDIS_URL_ENV_VAR} to be set")
    if coordination is None and not env:
        return None
    if coordination is not None and coordination is not True:
        raise ConfigurationError(
            "coordination=... must be a Coordination, a Redis URL, True, False or None"
        )
    return _shared(env)


_SHARED: dict[str, Coordination] = {}
_SHARED_LOCK = threading.Lock()


def _shared(url: str) -> Coordination:
    """One :class:`Coordination` per URL and process (clients share its connection pool)."""
    with _SHARED_LOCK:
        found = _SHARED.get(url)
        if found is None:
            found = _SHARED[url] = Coordination(url)
        return found
