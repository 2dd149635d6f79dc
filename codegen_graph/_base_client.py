"""The client core: everything that does no I/O, written once for sync and async.

A call is described by a :class:`RequestSpec` (built in :mod:`._specs` or a resource). The
core turns it into a *plan*: a generator that yields :class:`Send`, :class:`Sleep`,
:class:`Refresh` (the token) and :class:`Acquire` (a rate budget shared between processes)
actions and receives each send's outcome (an ``httpx.Response`` or the ``httpx.HTTPError``
raised). The plan owns the whole algorithm (circuit breaker, rate budget, retries,
``Retry-After``, the 401 token re-read, the duplicate-free ``create`` lookup, error mapping
and response parsing), so the requester (``_async/api.py`` and its generated sync twin)
only authenticates, sends and sleeps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
import pydantic

from ._circuit import CircuitBreaker
from ._config import (
    BucketName,
    CircuitBreakerConfig,
    RateBudgets,
    RetryConfig,
    TokenProvider,
    TokenSource,
    resolve_base_url,
    resolve_org_id,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    CircuitOpenError,
    CodegenError,
    ConfigurationError,
    RateLimitError,
    ResponseValidationError,
    status_error_class,
)
from ._hooks import ClientHooks, route_template
from ._problems import describe_problems
from ._ratelimit import RateLimiter, bucket_for
from ._retry import parse_retry_after, retry_delay
from ._version import __version__
from .clock import Clock, SystemClock

if TYPE_CHECKING:
    from ._hooks import Hooks
    from ._metrics import Metrics
    from ._shared import SharedOrg

__all__ = ["Acquire", "BaseClient", "Plan", "Recovery", "Refresh", "RequestSpec", "Send", "Sleep"]

T = TypeVar("T")
L = TypeVar("L")

logger = logging.getLogger("codegen_graph.client")

USER_AGENT = f"codegen-graph/{__version__} httpx/{httpx.__version__}"
_EXCERPT = 200

#: The largest response body the client parses (16 MiB). Codegen's answers are small pages
#: (a 100-entry log page is well under 1 MiB); anything far bigger is a misbehaving proxy or
#: server, and turning it into models would cost many times its size in memory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Recovery(Generic[T]):
    """How to find the result of a request that may already have been processed.

    Before a retry, the core runs ``lookup`` and hands its result to ``pick``; a non-``None``
    answer is returned instead of sending the request again. With ``next_lookup``, a lookup
    that found nothing names the next request to run (a further page), until it says
    ``None``.
    """

    lookup: RequestSpec[Any]
    pick: Callable[[Any], T | None]
    next_lookup: Callable[[Any], RequestSpec[Any] | None] | None = None


@dataclass(frozen=True)
class RequestSpec(Generic[T]):
    """One API call, described once and executed by either client.

    Attributes:
        method: the HTTP method.
        path: the path under the base URL, ids already filled in.
        parse: turns the decoded JSON body into the result (may raise pydantic errors).
        params: query parameters (``None`` values are dropped).
        json: the JSON body, if any.
        recovery: for non-idempotent calls, the lookup that runs before every retry.
        idempotent: ``False`` for a call that must not be repeated blindly; without a
            ``recovery`` it is retried only when the server surely did not process it.
        max_retries: overrides the client's ``RetryConfig.max_retries`` for this call
            (the watcher polls with ``0``: a failed poll costs a tick, and the watcher
            decides when to poll again, between deadlines).
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    recovery: Recovery[T] | None = None
    idempotent: bool = True
    max_retries: int | None = None

    @property
    def bucket(self) -> BucketName:
        """The rate-limit bucket this call draws from."""
        return bucket_for(self.method, self.path)


@dataclass(frozen=True)
class Send:
    """Action: authenticate this request (the current token), send it, and send back the
    response or the ``httpx.HTTPError``. ``route`` is the path template, for metrics.
    """

    request: httpx.Request
    route: str = ""


@dataclass(frozen=True)
class Sleep:
    """Action: wait this many seconds on the client's clock."""

    seconds: float


@dataclass(frozen=True)
class Refresh:
    """Action: the API rejected the token; fetch it from the provider again (once)."""


@dataclass
class Acquire:
    """Action: take a slot of a *shared* rate budget (blocking Redis I/O): set ``grant`` to
    ``limiter.acquire(bucket)``, then send back ``None``. An async driver runs it in a
    thread, so a slow Redis never stalls the event loop. (An in-memory budget does no I/O
    and is taken inside the plan.)"""

    limiter: RateLimiter
    bucket: BucketName
    grant: tuple[float, bool] = (0.0, False)

    def take(self) -> None:
        self.grant = self.limiter.acquire(self.bucket)


AttemptOutcome = httpx.Response | httpx.HTTPError | None
Plan = Generator[Send | Sleep | Acquire | Refresh, AttemptOutcome, T]


def _excerpt(text: str) -> str:
    """A short, single-line excerpt of a (possibly HTML) body."""
    if "<" in text and ">" in text:
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"(?s)<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


def _summarise_detail(detail: list[Any]) -> str:
    summary = describe_problems(detail[:5], where="request", drop=("body",))
    return summary or "the request was rejected"


def _maybe_processed(outcome: AttemptOutcome) -> bool:
    """Whether the server may have acted on a request that failed this way."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code >= 500
    # Connecting (or waiting for a pooled connection) failed: nothing was sent.
    return not isinstance(outcome, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class BaseClient:
    """The state and I/O-free logic shared by :class:`CodegenClient` and its async twin."""

    def __init__(
        self,
        token: str | TokenProvider | None,
        org_id: int | str | None,
        *,
        base_url: str | None,
        max_retries: int,
        retry: RetryConfig | None,
        rate_limits: RateBudgets | bool | None,
        circuit_breaker: CircuitBreakerConfig | bool | None,
        clock: Clock | None,
        plugins: Hooks | Sequence[Hooks] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._token = TokenSource(token)
        self.org_id: int = resolve_org_id(org_id)
        self.base_url: str = resolve_base_url(base_url)
        self.clock: Clock = clock if clock is not None else SystemClock()
        if retry is None:
            retry = RetryConfig(max_retries=max_retries)
        elif max_retries not in (2, retry.max_retries):
            raise ConfigurationError("Pass max_retries=... or retry=RetryConfig(...), not both.")
        self.retry: RetryConfig = retry
        if rate_limits is True or rate_limits is None:
            rate_limits = RateBudgets()
        self.rate_budgets = RateLimiter(rate_limits or None, self.clock)
        #: The client's share of a :class:`~codegen_graph.Coordination` (``None``: alone).
        self.coordination: SharedOrg | None = None
        if circuit_breaker is True or circuit_breaker is None:
            circuit_breaker = CircuitBreakerConfig()
        self.circuit = CircuitBreaker(circuit_breaker or None, self.clock)
        self._random = random.Random()
        #: Plugins, metrics and spans around each call (internal).
        self.hooks = ClientHooks(self.org_id, plugins, metrics)

    def _join(self, share: SharedOrg | None) -> None:
        """Share the org's budgets (and, through the watcher, its poller) with ``share``."""
        self.coordination = share
        if share is not None and self.rate_budgets.budgets is not None:
            self.rate_budgets.store = share.budgets(self.rate_budgets.budgets)

    @property
    def plugins(self) -> Hooks | None:
        """The client's plugins (``None`` when none were given)."""
        return self.hooks.plugins

    @property
    def metrics(self) -> Metrics | None:
        """The Prometheus metrics the client records into, if any."""
        return self.hooks.metrics

    def __repr__(self) -> str:
        return f"{type(self).__name__}(org_id={self.org_id}, base_url={self.base_url!r})"

    # -- requests ---------------------------------------------------------------------

    def _build_request(self, spec: RequestSpec[Any]) -> httpx.Request:
        """The request, without its ``Authorization`` (the requester adds the token)."""
        params = {k: v for k, v in spec.params.items() if v is not None}
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        return httpx.Request(
            spec.method,
            self.base_url + spec.path,
            params=params or None,
            json=spec.json,
            headers=headers,
        )

    def _preflight(self, spec: RequestSpec[Any]) -> None:
        """Build the request once without the token: whatever cannot be encoded (a value
        the resources did not catch) is a :class:`ConfigurationError` before anything is
        sent, never a raw ``UnicodeEncodeError``/``TypeError`` from inside httpx."""
        try:
            self._build_request(spec)
        except (UnicodeError, TypeError, ValueError, httpx.InvalidURL) as exc:
            raise ConfigurationError(
                f"{spec.method} {spec.path}: the request cannot be encoded "
                f"({type(exc).__name__}: {exc}); check the arguments passed"
            ) from None

    def _scrub(self, text: str) -> str:
        """Remove the token from text that came from elsewhere (a server echoing it back)."""
        token = self._token.value
        return text.replace(token, "***") if token else text

    # -- the plan ---------------------------------------------------------------------

    def _plan(self, spec: RequestSpec[T]) -> Plan[T]:
        """The whole life of one call; see the module docstring."""
        self._preflight(spec)
        attempt = 0
        token_refreshed = False
        last_error: APIError | None = None
        retry = self.retry
        if spec.max_retries is not None and spec.max_retries != retry.max_retries:
            retry = dataclasses.replace(retry, max_retries=spec.max_retries)
        while True:
            if last_error is not None and spec.recovery is not None:
                found = yield from self._recover(spec.recovery, last_error)
                if found is not None:
                    return found
            try:
                self.circuit.check()  # fail fast before waiting for budget
            except CircuitOpenError as exc:
                raise exc from last_error
            granted = False
            while not granted:
                if self.rate_budgets.store is None:
                    delay, granted = self.rate_budgets.acquire(spec.bucket)
                else:
                    acquire = Acquire(self.rate_budgets, spec.bucket)
                    yield acquire
                    delay, granted = acquire.grant
                if delay > 0:
                    logger.debug(
                        "%s %s waits %.3fs for %s budget",
                        spec.method,
                        spec.path,
                        delay,
                        spec.bucket,
                    )
                    yield Sleep(delay)
            attempt += 1
            try:
                probe = self.circuit.before_call()
            except CircuitOpenError as exc:
                raise exc from last_error
            request = self._build_request(spec)
            try:
                outcome = yield Send(request, route_template(spec.path))
            except BaseException:
                self.circuit.abandon(probe=probe)
                raise
            error = self._error_for(spec, outcome)
            self.circuit.record(error, probe=probe)
            if error is None:
                assert isinstance(outcome, httpx.Response)
                logger.debug("%s %s -> %s", spec.method, spec.path, outcome.status_code)
                return self._parse(spec, outcome)
            if (
                isinstance(error, APIStatusError)
                and error.status_code == 401
                and self._token.provider is not None
                and not token_refreshed
            ):
                logger.info(
                    "%s %s -> 401; re-reading the token provider once", spec.method, spec.path
                )
                yield Refresh()
                token_refreshed = True
                attempt -= 1  # the re-read is not a retry, and a 401 was not processed
                continue
            retry_after = None
            if isinstance(outcome, httpx.Response):
                retry_after = parse_retry_after(
                    outcome.headers.get("retry-after"), self.clock.now()
                )
            backoff = retry_delay(
                attempt, error, retry, retry_after=retry_after, rand=self._random.random
            )
            if backoff is None or (
                not spec.idempotent and spec.recovery is None and _maybe_processed(outcome)
            ):
                raise error
            delay = backoff
            if isinstance(error, RateLimitError):
                self.rate_budgets.hold(spec.bucket, self.clock.now() + delay)
            # INFO, not WARNING (as openai-python does): a retry is the client doing its
            # job; a program that never configured logging must not print a line for it.
            logger.info(
                "%s %s failed (%s); retry %d/%d in %.2fs",
                spec.method,
                spec.path,
                type(error).__name__,
                attempt,
                retry.max_retries,
                delay,
            )
            self.hooks.retrying(route_template(spec.path))
            if delay > 0:
                yield Sleep(delay)
            last_error = error

    def _recover(self, recovery: Recovery[T], error: APIError) -> Plan[T | None]:
        """Look up whether a failed non-idempotent call took effect after all."""
        lookup: RequestSpec[Any] | None = recovery.lookup
        result: T | None = None
        while lookup is not None:
            try:
                found = yield from self._plan(lookup)
            except CodegenError as lookup_error:
                logger.info(
                    "lookup before retry failed (%s); not re-sending", type(lookup_error).__name__
                )
                raise error from lookup_error
            result = recovery.pick(found)
            if result is not None or recovery.next_lookup is None:
                break
            lookup = recovery.next_lookup(found)
        if result is not None:
            logger.info("the earlier attempt took effect; returning it instead of re-sending")
        return result

    # -- responses --------------------------------------------------------------------

    def _error_for(self, spec: RequestSpec[Any], outcome: AttemptOutcome) -> APIError | None:
        """The typed error for an outcome, or ``None`` for a 2xx response."""
        where: dict[str, Any] = {"method": spec.method, "path": spec.path}
        if isinstance(outcome, httpx.TimeoutException):
            return APITimeoutError(
                f"No answer in time ({type(outcome).__name__}: {self._scrub(str(outcome))})",
                **where,
            )
        if isinstance(outcome, httpx.HTTPError) or outcome is None:
            detail = f"{type(outcome).__name__}: {self._scrub(str(outcome))}"
            return APIConnectionError(f"Connection failed ({detail})", **where)
        if outcome.is_success:
            return None
        return self._status_error(outcome, where)

    def _status_error(self, response: httpx.Response, where: dict[str, Any]) -> APIStatusError:
        status = response.status_code
        request_id = response.headers.get("x-request-id")
        # An error page is only shown as an excerpt: never decode more than the limit.
        text = self._scrub(response.content[:MAX_RESPONSE_BYTES].decode("utf-8", "replace"))
        body: Any
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = _excerpt(text)
        if isinstance(body, dict) and isinstance(body.get("detail"), list):
            message = _summarise_detail(body["detail"])
        elif isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
        elif isinstance(body, dict) and isinstance(body.get("detail"), str):
            message = body["detail"]
        elif isinstance(body, str) and body:
            kind = "an HTML page" if "html" in response.headers.get("content-type", "") else "text"
            message = f"{response.reason_phrase or 'error'} (the server sent {kind}: {body!r})"
        else:
            message = response.reason_phrase or "error"
        cls = status_error_class(status)
        kwargs: dict[str, Any] = dict(status_code=status, body=body, request_id=request_id, **where)
        if cls is RateLimitError:
            kwargs["retry_after"] = parse_retry_after(
                response.headers.get("retry-after"), self.clock.now()
            )
        return cls(message, **kwargs)

    def _parse(self, spec: RequestSpec[T], response: httpx.Response) -> T:
        where: dict[str, Any] = {
            "method": spec.method,
            "path": spec.path,
            "request_id": response.headers.get("x-request-id"),
        }
        size = len(response.content)
        if size > MAX_RESPONSE_BYTES:
            raise ResponseValidationError(
                f"The response body is {size:,} bytes, over the client's limit of "
                f"{MAX_RESPONSE_BYTES:,} bytes (16 MiB); not parsing it",
                **where,
            )
        text = response.text
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            ctype = response.headers.get("content-type", "no content-type")
            raise ResponseValidationError(
                f"Expected a JSON body but got {ctype}: {_excerpt(self._scrub(text))!r}", **where
            ) from None
        try:
            return spec.parse(data)
        except pydantic.ValidationError as exc:
            problems = describe_problems(exc, where="body", limit=5)
            raise ResponseValidationError(
                f"The response does not match the API's model ({exc.error_count()} "
                f"problem(s): {problems})",
                **where,
            ) from None
