"""The one retry decision, shared by the sync and async clients.

:func:`retry_delay` answers "wait how long, or give up?" for a failed attempt. It is pure (a
random source is passed in), so the sync client, the async client and the tests all use the
very same function.

Why not tenacity: its value is the retry *loop*, and here the loop is not generic. Between
attempts the client must consult the circuit breaker, take rate-budget slots, re-read a
rotated token after a 401 and look up an ambiguous ``create`` before posting again; those
steps live in the client's single request plan (``_base_client``), which yields "send" and
"sleep" actions to a sync or async driver. Wrapping that in ``Retrying``/``AsyncRetrying``
would split one algorithm across two loops again. What is left, the backoff formula and
``Retry-After`` parsing, is a few lines.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from typing import Final

from ._config import RetryConfig
from ._exceptions import APIStatusError, CircuitOpenError, CodegenError, RateLimitError

__all__ = ["MAX_RETRY_AFTER", "NEVER_RETRIED", "parse_retry_after", "pause_for", "retry_delay"]

#: The longest ``Retry-After`` the client will wait, in seconds. A server asking for more is
#: waited on for this long and then tried again (and counted as a retry).
MAX_RETRY_AFTER: Final = 60.0

#: Statuses that trying again cannot fix.
NEVER_RETRIED: Final = frozenset({400, 401, 402, 403, 404, 422})


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value.

    Accepts delta-seconds (``"7"``, ``"1.5"``) and an HTTP-date (``"Wed, 21 Oct 2015
    07:28:00 GMT"``), the latter relative to ``now`` (epoch seconds on the client's clock).
    Returns ``None`` for a missing or unparsable value; a date in the past gives ``0.0``.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def backoff(attempt: int, config: RetryConfig, rand: Callable[[], float]) -> float:
    """The computed delay after failed attempt number ``attempt`` (1-based).

    ``initial_delay * 2 ** (attempt - 1)``, capped at ``max_delay``, then (with jitter)
    scaled by a factor in ``[0.75, 1.0]``.
    """
    delay = min(config.max_delay, config.initial_delay * (2.0 ** max(0, attempt - 1)))
    if config.jitter:
        delay *= 1.0 - 0.25 * rand()
    return delay


def retry_delay(
    attempt: int,
    error: CodegenError,
    config: RetryConfig,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float],
) -> float | None:
    """How long to wait before the next attempt, or ``None`` to give up.

    Args:
        attempt: how many attempts have been made so far (1 after the first failure).
        error: the typed error of the failed attempt.
        config: the retry settings.
        retry_after: the server's ``Retry-After`` in seconds, if it sent one.
        rand: a source of floats in ``[0, 1)`` for jitter.

    Retried: 408, 409, 429, 5xx, connection errors and timeouts (``error.is_transient``).
    Never retried: 400, 401, 402, 403, 404, 422 and anything not transient. A server's
    ``Retry-After`` replaces the computed backoff, capped at :data:`MAX_RETRY_AFTER`.
    """
    if attempt > config.max_retries:
        return None
    if isinstance(error, APIStatusError) and error.status_code in NEVER_RETRIED:
        return None
    if not error.is_transient:
        return None
    if retry_after is None and isinstance(error, RateLimitError):
        retry_after = error.retry_after
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return backoff(attempt, config, rand)


def pause_for(
    error: CodegenError,
    failures: int,
    config: RetryConfig,
    *,
    now: float,
    rand: Callable[[], float],
) -> float:
    """How long a *waiting* caller pauses after a transient failure; it never gives up.

    Waits, log streams and batches do not fail on a transient error: they pause and try
    again (until their own deadline). This is how long, after ``failures`` consecutive
    failures (1-based):

    * an open circuit: until it half-opens (``retry_at``); when it already has and another
      caller holds the probe, one short backoff;
    * a 429: the server's ``Retry-After`` (capped at :data:`MAX_RETRY_AFTER`), else backoff;
    * anything else: the client's backoff (``initial_delay`` doubling up to ``max_delay``).
    """
    if isinstance(error, CircuitOpenError):
        if error.retry_at is not None and error.retry_at > now:
            return error.retry_at - now
        return backoff(1, config, rand)
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return min(error.retry_after, MAX_RETRY_AFTER)
    return backoff(failures, config, rand)
