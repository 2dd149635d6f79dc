"""Client-side rate budgets: a call waits for budget instead of earning a 429.

The limiter is a sliding-window log with reservations. Each bucket keeps the times of its
granted slots (some possibly in the future). A new slot goes at the earliest time ``t`` that
keeps every window of ``period`` seconds at or below ``calls`` slots::

    t = max(now, last_slot, slot[-calls] + period + margin)

and the caller is told to wait ``t - now``. Slots are granted in order, so two consecutive
``calls``-th neighbours are always at least ``period`` apart, which is exactly the budget
(plus the budget's latency ``margin``, see :class:`~codegen_graph.RateBudget`).

The core is pure and thread-safe: a lock is held only while computing, never while waiting.
Sync callers then sleep with ``clock.sleep``, async callers with ``await clock.asleep``, so
one limiter serves threads and tasks of one client alike.

The slots can also live elsewhere: a :class:`BudgetStore` (``store=``) shares them between
processes (:mod:`codegen_graph._coordination` keeps them in Redis). Then :meth:`acquire`
asks the store, and a denied call waits and asks again; holds after a 429 stay local.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Final, Protocol

from ._config import BucketName, RateBudget, RateBudgets
from .clock import Clock

__all__ = ["UNLIMITED", "BudgetStore", "RateLimiter", "bucket_for"]

#: What :meth:`RateLimiter.remaining` reports when budgets are switched off.
UNLIMITED: Final = sys.maxsize

_BUCKETS: tuple[BucketName, ...] = ("create", "standard", "logs")


def bucket_for(method: str, path: str) -> BucketName:
    """The bucket a request draws from.

    ``POST .../agent/run`` is ``create``; anything under ``/v1/alpha/`` (the logs endpoint)
    is ``logs``; everything else is ``standard``.
    """
    if method.upper() == "POST" and path.rstrip("/").endswith("/agent/run"):
        return "create"
    if path.startswith("/v1/alpha/"):
        return "logs"
    return "standard"


class BudgetStore(Protocol):
    """Where a limiter's slots live when they are shared with other processes."""

    def acquire(self, bucket: BucketName) -> tuple[float, bool]:
        """Take a slot in ``bucket``: ``(delay, True)`` if granted (send after ``delay``),
        ``(delay, False)`` if not (ask again after ``delay``)."""
        ...


class _Window:
    """One bucket's slot log. Not locked itself: :class:`RateLimiter` holds the lock."""

    __slots__ = ("budget", "hold_until", "slots")

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget
        self.slots: deque[float] = deque()
        self.hold_until = float("-inf")

    def _prune(self, now: float) -> None:
        horizon = now - self.budget.period - self.budget.margin
        while self.slots and self.slots[0] <= horizon:
            self.slots.popleft()

    def next_free_at(self, now: float) -> float:
        self._prune(now)
        t = max(now, self.hold_until)
        if self.slots:
            t = max(t, self.slots[-1])
        if len(self.slots) >= self.budget.calls:
            window = self.budget.period + self.budget.margin
            t = max(t, self.slots[-self.budget.calls] + window)
        return t

    def reserve(self, now: float) -> float:
        t = self.next_free_at(now)
        self.slots.append(t)
        return t - now

    def remaining(self, now: float) -> int:
        self._prune(now)
        if self.hold_until > now:
            return 0
        return max(0, self.budget.calls - len(self.slots))


class RateLimiter:
    """The rate budgets shared by every call of one client (``client.rate_budgets``).

    Args:
        budgets: the per-bucket budgets, or ``None`` to switch limiting off.
        clock: the clock used when a method is called without ``now``.

    Buckets are ``"create"``, ``"standard"`` and ``"logs"`` (see :func:`bucket_for`).

    Examples:
        >>> from codegen_graph import RateBudget, RateBudgets
        >>> from codegen_graph.clock import ManualClock
        >>> clock = ManualClock(start=0.0)
        >>> limiter = RateLimiter(RateBudgets(standard=RateBudget(2, 10.0)), clock)
        >>> limiter.reserve("standard"), limiter.reserve("standard"), limiter.reserve("standard")
        (0.0, 0.0, 10.0)
        >>> limiter.remaining("standard"), limiter.next_free_at("standard")
        (0, 10.0)
    """

    def __init__(
        self, budgets: RateBudgets | None, clock: Clock, *, store: BudgetStore | None = None
    ) -> None:
        self.budgets = budgets
        self.store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[BucketName, _Window] = (
            {b: _Window(budgets.for_bucket(b)) for b in _BUCKETS} if budgets else {}
        )

    @property
    def enabled(self) -> bool:
        """Whether calls wait for budget at all."""
        return self.budgets is not None

    def reserve(self, bucket: BucketName, now: float | None = None) -> float:
        """Take the next slot in ``bucket``; returns how many seconds to wait before sending.

        The slot is taken at once, so concurrent callers queue up in order; the caller must
        then wait the returned delay (``0.0`` when budget is free or limiting is off).
        """
        window = self._windows.get(bucket)
        if window is None:
            return 0.0
        with self._lock:
            return window.reserve(self._now(now))

    def acquire(self, bucket: BucketName) -> tuple[float, bool]:
        """Take a slot for one request: ``(delay, granted)``.

        Granted: send after ``delay``. Not granted (only with a shared ``store``, or while a
        429's hold lasts): wait ``delay``, then call again.
        """
        window = self._windows.get(bucket)
        if window is None:
            return 0.0, True
        if self.store is None:
            return self.reserve(bucket), True
        now = self._clock.now()
        if window.hold_until > now:
            return window.hold_until - now, False
        return self.store.acquire(bucket)

    def spent(self, bucket: BucketName, now: float | None = None) -> list[float]:
        """The times of the slots granted in ``bucket``'s current window (oldest first)."""
        window = self._windows.get(bucket)
        if window is None:
            return []
        with self._lock:
            window._prune(self._now(now))
            return list(window.slots)

    def remaining(self, bucket: BucketName, now: float | None = None) -> int:
        """How many calls ``bucket`` can take at ``now`` without waiting.

        Slots reserved by callers still waiting count as used. :data:`UNLIMITED` when
        limiting is off.
        """
        window = self._windows.get(bucket)
        if window is None:
            return UNLIMITED
        with self._lock:
            return window.remaining(self._now(now))

    def next_free_at(self, bucket: BucketName, now: float | None = None) -> float:
        """The clock time at which the next call in ``bucket`` could be sent (>= ``now``)."""
        current = self._now(now)
        window = self._windows.get(bucket)
        if window is None:
            return current
        with self._lock:
            return window.next_free_at(current)

    def hold(self, bucket: BucketName, until: float) -> None:
        """Grant no slot in ``bucket`` before ``until`` (the client does this on a 429)."""
        window = self._windows.get(bucket)
        if window is None:
            return
        with self._lock:
            window.hold_until = max(window.hold_until, until)

    def _now(self, now: float | None) -> float:
        return self._clock.now() if now is None else now

    def __repr__(self) -> str:
        if self.budgets is None:
            return "RateLimiter(disabled)"
        inner = ", ".join(
            f"{b}={w.budget.calls}/{w.budget.period:g}s" for b, w in self._windows.items()
        )
        return f"RateLimiter({inner})"
