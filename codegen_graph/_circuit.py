"""A circuit breaker: stop hammering an API that keeps failing.

::

    closed --(failure_threshold consecutive transient failures)--> open
    open   --(cooldown elapsed)--> half_open: exactly one probe request goes through
    half_open --probe succeeds--> closed
    half_open --probe fails----> open (a new cooldown)

Only failures that say "the service is unwell" count: 5xx, 408, timeouts and dropped
connections. A 429 (healthy but busy) and other 4xx answers (healthy, our request was wrong)
are answers, so they close the circuit like a success does.

Thread-safe; the lock is held only to update the state. Shared by sync and async callers.
"""

from __future__ import annotations

import threading
from typing import Literal, NoReturn

from ._config import CircuitBreakerConfig
from ._exceptions import APIConnectionError, APIStatusError, CircuitOpenError, CodegenError
from .clock import Clock

__all__ = ["CircuitBreaker", "CircuitState", "counts_as_failure"]

CircuitState = Literal["closed", "open", "half_open", "disabled"]


def counts_as_failure(error: CodegenError) -> bool:
    """Whether ``error`` says the service is unwell (and so counts towards opening)."""
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code >= 500 or error.status_code == 408
    return False


class CircuitBreaker:
    """The client's breaker (``client.circuit``).

    Args:
        config: thresholds, or ``None`` for a breaker that never opens.
        clock: the clock measuring the cooldown.
    """

    def __init__(self, config: CircuitBreakerConfig | None, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def enabled(self) -> bool:
        """Whether the breaker can open at all."""
        return self.config is not None

    @property
    def state(self) -> CircuitState:
        """``closed``, ``open``, ``half_open`` (cooldown over, probe allowed) or ``disabled``."""
        with self._lock:
            return self._state(self._clock.now())

    @property
    def consecutive_failures(self) -> int:
        """Transient failures since the last answer."""
        return self._failures

    @property
    def retry_at(self) -> float | None:
        """When an open circuit lets a probe through (``None`` unless open)."""
        if self.config is None or self._opened_at is None:
            return None
        return self._opened_at + self.config.cooldown

    def _state(self, now: float) -> CircuitState:
        if self.config is None:
            return "disabled"
        if self._opened_at is None:
            return "closed"
        if now - self._opened_at >= self.config.cooldown:
            return "half_open"
        return "open"

    def check(self) -> None:
        """Raise :class:`CircuitOpenError` if a call would be refused now (claims nothing)."""
        with self._lock:
            state = self._state(self._clock.now())
            refused = state == "open" or (state == "half_open" and self._probe_in_flight)
        if refused:
            self._refuse(state)

    def before_call(self) -> bool:
        """Admit a call, or raise :class:`CircuitOpenError`.

        Returns:
            ``True`` if this call is the half-open probe; its outcome must be reported with
            :meth:`record` (or :meth:`abandon` if it never completed).
        """
        with self._lock:
            state = self._state(self._clock.now())
            if state in ("closed", "disabled"):
                return False
            if state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
        self._refuse(state)

    def _refuse(self, state: CircuitState) -> NoReturn:
        retry_at = self.retry_at
        if state == "half_open" or retry_at is None:
            when = "after the probe in flight"
        else:
            when = f"in {max(0.0, retry_at - self._clock.now()):.1f}s"
        raise CircuitOpenError(
            f"Circuit open after {self._failures} consecutive transient failures; "
            f"failing fast. One probe request will be let through {when}.",
            retry_at=retry_at,
        )

    def record(self, error: CodegenError | None, *, probe: bool = False) -> None:
        """Report an attempt's outcome: ``None`` for success, else its error."""
        if self.config is None:
            return
        with self._lock:
            if probe:
                self._probe_in_flight = False
            if error is None or not counts_as_failure(error):
                self._failures = 0
                self._opened_at = None
                return
            self._failures += 1
            if probe or self._failures >= self.config.failure_threshold:
                self._opened_at = self._clock.now()

    def abandon(self, *, probe: bool) -> None:
        """A call was cancelled before its outcome was known: free the probe slot."""
        if probe:
            with self._lock:
                self._probe_in_flight = False

    def reset(self) -> None:
        """Close the circuit by hand."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probe_in_flight = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failures={self._failures})"
