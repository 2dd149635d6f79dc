"""Clocks: the one seam through which codegen-graph reads time and sleeps.

Waiting, retries, rate budgets and the local backend's run engine all take a :class:`Clock`.
Production uses :class:`SystemClock`. The local backend and benchmarks use
:class:`ScaledClock`, where simulated time runs ``scale`` times faster than real time (a
60-second rate window lasts 60 ms at ``scale=1000``). Unit tests use :class:`ManualClock`,
where sleeping advances time instantly, so no test sleeps for real seconds.

Times are seconds since the Unix epoch (simulated for the non-system clocks), so they can
be turned into the timestamps the API reports.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "ScaledClock", "SystemClock"]

# Event-loop rounds a ManualClock sleeper yields before advancing time: enough for a future
# resolved with call_soon_threadsafe to resume the task awaiting it.
_READY_ROUNDS = 4


@runtime_checkable
class Clock(Protocol):
    """Reads time and sleeps, in (possibly simulated) seconds."""

    def now(self) -> float:
        """Seconds since the epoch, on this clock."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of this clock's time."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class ScaledClock:
    """Simulated time that runs ``scale`` times faster than real time.

    Args:
        scale: simulated seconds per real second (``1.0`` is real time).
        start: the simulated epoch time at creation (default: now).
    """

    def __init__(self, scale: float = 1.0, *, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("ScaledClock(scale=...) must be > 0")
        self.scale = float(scale)
        self._start = time.time() if start is None else float(start)
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._mono0) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)

    def __repr__(self) -> str:
        return f"ScaledClock(scale={self.scale:g})"


class ManualClock:
    """A clock that only moves when told to; sleeping advances it at once.

    ``sleeps`` records every requested sleep, which is how tests measure backoff.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        # Let the tasks that are ready now run at the current time before time moves on
        # (a woken waiter must see the time it was woken at, not the sleeper's wake-up).
        for _ in range(_READY_ROUNDS):
            await asyncio.sleep(0)
        self.advance(seconds)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now:.3f})"
