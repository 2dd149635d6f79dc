"""The org's rate budgets, shared by every process through Redis.

Each bucket (create, standard, logs) is a pyrate-limiter ``RedisBucket``: a sliding-window
log in a Redis sorted set, checked and appended by one Lua script, so two processes can
never both take the last slot of a window. A denied call is told how long until the
oldest slot of the window leaves it, sleeps that long on the client's clock and asks again.

While Redis is down each process draws from a local budget of ``fallback_share`` of every
org budget (at least one call per window). When Redis answers again, the slots spent
locally in the current window are written into the shared log before anything else, so
the processes that rejoin do not spend them a second time.
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from typing import TYPE_CHECKING, Any

from .._config import BucketName, RateBudget, RateBudgets
from .._ratelimit import RateLimiter
from ._base import CoordinationDown, now_ms

if TYPE_CHECKING:
    from ._redis import OrgLink

__all__ = ["SharedBudgets", "fallback_budgets"]

_BUCKETS: tuple[BucketName, ...] = ("create", "standard", "logs")
_LEAK_EVERY = 64  # acquisitions between two trims of a bucket's log
#: Seconds added to every shared window, on top of the budget's own margin: a slot taken in
#: Redis travels through another process's scheduler before its request reaches the API.
SHARED_MARGIN = 1.0
#: ... and never less than this many *real* seconds: the delay is real time, so a simulated
#: clock running 25x faster (the local backend's ``time_scale``) must not shrink it to 40 ms.
SHARED_MARGIN_REAL = 0.1
_JITTER = 0.1  # of the mean spacing of a budget's calls, added to a denied call's wait


def fallback_budgets(budgets: RateBudgets, share: float) -> RateBudgets:
    """``share`` of every budget, at least one call per window."""

    def part(b: RateBudget) -> RateBudget:
        return RateBudget(max(1, math.floor(b.calls * share)), b.period, margin=b.margin)

    return RateBudgets(
        create=part(budgets.create), standard=part(budgets.standard), logs=part(budgets.logs)
    )


def _put_item_script() -> str:
    """pyrate-limiter's check-and-insert script, counting slots stamped *after* ``now`` too.

    Each process stamps its slot with its own clock just before the script runs; a process
    that was descheduled between the two would otherwise not count the slots that others
    stamped in the meantime and admit one call too many.
    """
    from pyrate_limiter.buckets.redis_bucket import LuaScript

    original = "redis.call('ZCOUNT', bucket, window_start, now)"
    if original not in LuaScript.PUT_ITEM:  # pragma: no cover - a pyrate-limiter change
        raise RuntimeError("pyrate-limiter's Redis script changed; update codegen-graph")
    return LuaScript.PUT_ITEM.replace(
        original, "redis.call('ZCOUNT', bucket, window_start, '+inf')"
    )


def _put(redis: Any, bucket: Any, item: Any) -> Any:
    """``bucket.put_decision(item)``, loading the script again if Redis lost it (a restart)."""
    from redis.exceptions import NoScriptError

    try:
        return bucket.put_decision(item)
    except NoScriptError:
        bucket.script_hash = str(redis.script_load(_put_item_script()))
        item.timestamp = now_ms()
        return bucket.put_decision(item)


class SharedBudgets:
    """The store behind a client's :class:`~codegen_graph._ratelimit.RateLimiter` when the
    budgets are shared (see the module docstring)."""

    def __init__(self, link: OrgLink, budgets: RateBudgets) -> None:
        self.link = link
        self.budgets = budgets
        self.local = RateLimiter(
            fallback_budgets(budgets, link.coordination.fallback_share), link.clock
        )
        self._buckets: dict[BucketName, Any] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._random = random.Random()
        self._was_down = False
        #: Calls granted by the local fallback, per bucket (for tests and benchmarks).
        self.fallback_grants: dict[BucketName, int] = dict.fromkeys(_BUCKETS, 0)

    def __repr__(self) -> str:
        return f"SharedBudgets({self.link.ns!r})"

    def _bucket(self, name: BucketName) -> Any:
        bucket = self._buckets.get(name)
        if bucket is None:
            from pyrate_limiter import Rate, RedisBucket

            budget = self.budgets.for_bucket(name)
            extra = max(SHARED_MARGIN, SHARED_MARGIN_REAL * self.link.scale)
            window = self.link.real_ms(budget.period + budget.margin + extra)
            rates = [Rate(budget.calls, window)]
            key = self.link.key("budget", name)
            script = self.link.call(lambda r: r.script_load(_put_item_script()))
            bucket = RedisBucket(rates, self.link.coordination.redis, key, str(script))
            self._buckets[name] = bucket
        return bucket

    def acquire(self, name: BucketName) -> tuple[float, bool]:
        """Try to take a slot now: ``(0.0, True)``, or ``(seconds to wait, False)`` to ask
        again after that wait; on the fallback ``(wait, True)`` (the slot is reserved)."""
        from pyrate_limiter import RateItem

        try:
            with self._lock:
                bucket = self._bucket(name)
                if self._was_down:
                    self._rejoin()
                self._count += 1
                leak = self._count % _LEAK_EVERY == 0
            decision = self.link.call(lambda r: _put(r, bucket, RateItem(name, now_ms())))
            at_ms = now_ms()
            if leak:
                self.link.call(lambda _r: bucket.leak(at_ms))
        except CoordinationDown:
            self._was_down = True
            self.fallback_grants[name] += 1
            return self.local.reserve(name), True
        if decision.allowed:
            return 0.0, True
        wait_ms = decision.retry_after_ms
        if wait_ms is None or wait_ms < 0:
            wait_ms = self.link.real_ms(1.0)
        # Denied callers of every process would all ask again the moment the oldest slot
        # leaves the window; a little jitter lets the first one through alone, so that the
        # winner is not slowed down by the losers on its way to the API.
        budget = self.budgets.for_bucket(name)
        jitter = self._random.uniform(0.0, _JITTER * budget.period / budget.calls)
        return max(wait_ms, 1) * self.link.scale / 1000.0 + jitter, False

    def _rejoin(self) -> None:
        """Write the slots spent on the fallback in the current windows into Redis."""
        now_clock = self.link.clock.now()
        at_ms = now_ms()
        for name in _BUCKETS:
            slots = self.local.spent(name, now_clock)
            if not slots:
                continue
            members = {
                f"fallback:{uuid.uuid4().hex}": at_ms
                + round((t - now_clock) * 1000.0 / self.link.scale)
                for t in slots
            }
            key = self.link.key("budget", name)
            self.link.call(lambda r, m=members, k=key: r.zadd(k, m))  # type: ignore[misc]
        self._was_down = False
