"""A LangGraph ``RetryPolicy`` that retries what can succeed later, and nothing else.

LangGraph's default ``retry_on`` (``langgraph._internal._retry.default_retry_on``) is a
blacklist: it refuses ``ValueError``, ``TypeError``, ``LookupError``, ``RuntimeError``,
``OSError`` and a few more, retries ``httpx.HTTPStatusError`` / ``requests.HTTPError`` only
for 5xx, and retries **every other exception**. Codegen errors are none of those, so the
default retries all of them: a 401, a 403, a 402 (plan quota reached) and a 404 are retried
as eagerly as a 429, burning attempts and time on requests that cannot succeed. (A 429 only
escapes the default's retries when it surfaces as a raw ``httpx.HTTPStatusError``.)

:func:`is_retryable_codegen_error` is a whitelist instead, built on
:attr:`codegen_graph.CodegenError.is_transient`, so the classification lives in one place
(``codegen_graph/_exceptions.py``) for both the client's own retries and node retries.
"""

from __future__ import annotations

import asyncio

import httpx
from langgraph.errors import NodeTimeoutError
from langgraph.types import RetryPolicy

from .._exceptions import CodegenError, ConfigurationError

__all__ = ["codegen_retry_policy", "is_retryable_codegen_error"]

# Errors from outside codegen-graph that mean "the network or the far side hiccupped".
# asyncio.TimeoutError is the builtin TimeoutError from Python 3.11 on, a separate class on
# 3.10. NodeTimeoutError is LangGraph's own ``timeout=`` expiring on a node.
_TRANSIENT_FOREIGN: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    NodeTimeoutError,
)
_RETRYABLE_HTTP_STATUS = frozenset({408, 429})


def is_retryable_codegen_error(exc: BaseException) -> bool:
    """Whether re-running a Codegen node after ``exc`` can succeed.

    Retried: codegen-graph errors marked transient (``RateLimitError`` 429,
    ``ServerError`` 5xx, ``ConflictError`` 409, ``APIConnectionError``, ``APITimeoutError``,
    ``CircuitOpenError``, ``RunTimeoutError``), ``httpx.TransportError``,
    ``httpx.HTTPStatusError`` with status 408, 429 or 5xx, the builtin ``ConnectionError``
    and ``TimeoutError``, and LangGraph's ``NodeTimeoutError``.

    Never retried: every other codegen-graph error (authentication, permission, 402 plan
    limit, 404, 400, 422, response validation, configuration, a run that ended ``FAILED``,
    an answer that never validated against ``output_schema``),
    programming errors (``ValueError``, ``TypeError``, ``KeyError``...) and anything else
    not listed: unknown means "do not spend more money on it".

    ``RunTimeoutError`` (a ``wait()`` ran out of time while the remote run goes on) is
    retried on purpose: Codegen nodes launch exactly once per launch key, so re-running the
    node re-attaches to the same run and waits again; it never creates a second run. Do not
    use this predicate on a node of your own that creates a run without such a key.

    Examples:
        >>> from codegen_graph import AuthenticationError, RateLimitError
        >>> is_retryable_codegen_error(RateLimitError("slow down", status_code=429))
        True
        >>> is_retryable_codegen_error(AuthenticationError("bad token", status_code=401))
        False
    """
    if isinstance(exc, CodegenError):
        return exc.is_transient
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status in _RETRYABLE_HTTP_STATUS or status >= 500
    return isinstance(exc, _TRANSIENT_FOREIGN)


def codegen_retry_policy(
    *,
    max_attempts: int = 5,
    initial_interval: float = 1.0,
    backoff_factor: float = 2.0,
    max_interval: float = 60.0,
    jitter: bool = True,
) -> RetryPolicy:
    """A ``RetryPolicy`` for nodes that talk to Codegen: transient errors only, with backoff.

    The n-th retry waits ``min(max_interval, initial_interval * backoff_factor ** (n - 1))``
    seconds, plus up to one second of random jitter when ``jitter`` is true (LangGraph adds
    the jitter). ``RateLimitError.retry_after`` is honoured by the client's own retries, not
    here: a ``RetryPolicy`` has one schedule for every exception.

    Args:
        max_attempts: attempts in total, including the first (>= 1).
        initial_interval: seconds before the first retry (>= 0).
        backoff_factor: multiplier per further retry (>= 1).
        max_interval: cap on the interval between retries, in seconds (>= initial_interval).
        jitter: add LangGraph's random jitter (0 to 1 s) to each interval.

    Raises:
        ConfigurationError: a value out of range.

    Examples:
        >>> from langgraph.graph import StateGraph
        >>> from codegen_graph.graph import GraphState
        >>> builder = StateGraph(GraphState)
        >>> builder = builder.add_node(
        ...     "code", lambda state: {}, retry_policy=codegen_retry_policy(max_attempts=3)
        ... )
    """
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ConfigurationError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
    if initial_interval < 0:
        raise ConfigurationError(f"initial_interval must be >= 0 seconds, got {initial_interval}")
    if backoff_factor < 1:
        raise ConfigurationError(f"backoff_factor must be >= 1, got {backoff_factor}")
    if max_interval < initial_interval:
        raise ConfigurationError(
            f"max_interval ({max_interval}) must be >= initial_interval ({initial_interval})"
        )
    return RetryPolicy(
        initial_interval=initial_interval,
        backoff_factor=backoff_factor,
        max_interval=max_interval,
        max_attempts=max_attempts,
        jitter=jitter,
        retry_on=is_retryable_codegen_error,
    )
