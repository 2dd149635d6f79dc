"""The requester: one connection pool that authenticates, sends and sleeps what the core says.

Everything else about a call (request building, budgets, retries, the circuit breaker,
error mapping, parsing) is the core's plan (:mod:`codegen_graph._base_client`); the hooks
(plugins, metrics, spans, output filters) wrap each call. Tokens from a provider are
fetched one at a time per client, ahead of their expiry (:class:`~codegen_graph.AccessToken`)
and again after a 401.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from typing_extensions import Self

from .._base_client import Acquire, AttemptOutcome, BaseClient, Refresh, RequestSpec, Sleep
from .._concurrency import AsyncKeyLock, async_call_provider, async_offload
from .._config import CircuitBreakerConfig, RateBudgets, RetryConfig, TokenProvider
from .._exceptions import ClientClosedError, CodegenError, ConfigurationError
from .._redact import register_secret
from .._shared import REDIS_URL_ENV_VAR, SharedOrg
from ..clock import Clock

if TYPE_CHECKING:
    from .._hooks import Hooks
    from .._metrics import Metrics

__all__ = ["AsyncAPI", "resolve_share"]

T = TypeVar("T")

logger = logging.getLogger("codegen_graph.client")


def _status(outcome: AttemptOutcome) -> int | str:
    """The metrics label of an attempt: the HTTP status, or ``"error"``."""
    return outcome.status_code if isinstance(outcome, httpx.Response) else "error"


def _check_http_args(http_client: object, transport: object, insecure: bool) -> None:
    if http_client is not None and transport is not None:
        raise ConfigurationError("Pass http_client=... or transport=..., not both.")
    if insecure is not True and insecure is not False:
        raise ConfigurationError("insecure_skip_tls_verify must be True or False")
    if insecure:
        logger.warning(
            "TLS certificate verification is OFF (insecure_skip_tls_verify=True): "
            "anyone on the network path can read the API token."
        )


def resolve_share(coordination: Any, org_id: int, base_url: str, clock: Clock) -> SharedOrg | None:
    """The client's ``coordination=`` argument as its share of the org, or ``None``.

    A ``Coordination`` (anything with ``link``) is used as given; a Redis URL, ``True`` or
    a set ``CODEGEN_REDIS_URL`` load the Redis plug-in; ``None`` with the variable unset,
    or ``False``, is alone.
    """
    import os

    if coordination is False:
        return None
    if coordination is None and not os.environ.get(REDIS_URL_ENV_VAR, "").strip():
        return None
    if callable(getattr(coordination, "link", None)):
        share: SharedOrg = coordination.link(org_id, base_url, clock)
        return share
    if coordination not in (None, True) and not isinstance(coordination, str):
        raise ConfigurationError(
            "coordination=... must be a Coordination, a Redis URL, True, False or None"
        )
    from .._coordination import resolve_coordination  # the plug-in, loaded only when used

    found = resolve_coordination(coordination)
    return None if found is None else found.link(org_id, base_url, clock)


class AsyncAPI(BaseClient):
    """The connection to the Codegen API that every layer above sends through."""

    def __init__(
        self,
        token: str | TokenProvider | None = None,
        org_id: int | str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        max_retries: int = 2,
        retry: RetryConfig | None = None,
        rate_limits: RateBudgets | bool | None = None,
        circuit_breaker: CircuitBreakerConfig | bool | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        insecure_skip_tls_verify: bool = False,
        plugins: Hooks | Sequence[Hooks] | None = None,
        metrics: Metrics | None = None,
        coordination: Any = None,
    ) -> None:
        super().__init__(
            token,
            org_id,
            base_url=base_url,
            max_retries=max_retries,
            retry=retry,
            rate_limits=rate_limits,
            circuit_breaker=circuit_breaker,
            clock=clock,
            plugins=plugins,
            metrics=metrics,
        )
        _check_http_args(http_client, transport, insecure_skip_tls_verify)
        share = resolve_share(coordination, self.org_id, self.base_url, self.clock)
        self._join(share)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, transport=transport, verify=not insecure_skip_tls_verify
        )
        self.closed = False

    async def request(self, spec: RequestSpec[T]) -> T:
        """Run one call to the end with its hooks (internal: resources, handles and the
        watcher call this; it is not part of the public API)."""
        self._check_open()
        call = self.hooks.call(spec)
        with call.span():
            try:
                result: T = await self._drive(cast("RequestSpec[T]", call.spec))
            except BaseException as exc:
                call.failed(exc)
                raise
            return cast(T, call.succeeded(result))

    def _check_open(self) -> None:
        if self.closed:
            raise ClientClosedError(
                f"{type(self).__name__} is closed: make a new client (the runs go on)"
            )

    async def _bearer(self) -> str:
        """The current token, fetched from the provider when due (one fetch at a time)."""
        source = self._token
        if source.stale(self.clock.now()):
            async with AsyncKeyLock(("codegen-graph-token", id(source))):
                if source.stale(self.clock.now()) and source.provider is not None:
                    got = await async_call_provider(source.provider)
                    register_secret(source.accept(got, self.clock.now()))
        token = source.value
        if token is None:  # pragma: no cover - a fixed token is never stale
            raise CodegenError("no token")
        register_secret(token)
        return token

    async def _drive(self, spec: RequestSpec[T]) -> T:
        """Drive the core's plan for ``spec``: send what it says, sleep what it says."""
        plan = self._plan(spec)
        outcome: AttemptOutcome = None
        sent = ""
        try:
            while True:
                action = plan.send(outcome)
                outcome = None
                if isinstance(action, Sleep):
                    await self.clock.asleep(action.seconds)
                    continue
                if isinstance(action, Acquire):  # shared budget: Redis I/O, off the loop
                    await async_offload(action.take)
                    continue
                if isinstance(action, Refresh):
                    self._token.expire(sent)
                    continue
                request = action.request
                self._check_open()  # closed during a retry's pause: no more sends
                sent = await self._bearer()
                request.headers["Authorization"] = f"Bearer {sent}"
                started = time.perf_counter()
                try:
                    outcome = await self._http.send(request)
                except httpx.HTTPError as exc:
                    outcome = exc
                except RuntimeError:  # httpx's "client has been closed", from a close
                    self._check_open()  # in another thread during the send
                    raise
                self.hooks.request_sent(
                    action.route, _status(outcome), time.perf_counter() - started
                )
        except StopIteration as done:
            return cast(T, done.value)
        finally:
            plan.close()

    async def aclose(self) -> None:
        """Close the connection pool (unless the caller passed its own ``http_client``);
        later calls fail fast with :class:`~codegen_graph.ClientClosedError`."""
        self.closed = True
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
