"""``CodegenClient`` and ``AsyncCodegenClient``: they only send and sleep.

Everything else (request building, budgets, retries, the circuit breaker, error mapping,
parsing) is in :mod:`codegen_graph._base_client`, written once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar, cast

import httpx

from ._base_client import Acquire, AttemptOutcome, BaseClient, RequestSpec, Sleep
from ._config import CircuitBreakerConfig, RateBudgets, RetryConfig, TokenProvider
from ._coordination import AsyncCoordinatedRunWatcher, CoordinatedRunWatcher, Coordination
from ._exceptions import ConfigurationError
from ._watcher import AsyncRunWatcher, RunWatcher
from .clock import Clock
from .resources import (
    AgentRuns,
    AsyncAgentRuns,
    AsyncCLIRules,
    AsyncIntegrations,
    AsyncOrganizations,
    AsyncPullRequests,
    AsyncRepos,
    AsyncSandbox,
    AsyncSetupCommands,
    AsyncSlackConnect,
    AsyncUsers,
    CLIRules,
    Integrations,
    Organizations,
    PullRequests,
    Repos,
    Sandbox,
    SetupCommands,
    SlackConnect,
    Users,
)

if TYPE_CHECKING:
    from ._hooks import Hooks
    from ._metrics import Metrics

__all__ = ["AsyncCodegenClient", "CodegenClient"]

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


class CodegenClient(BaseClient):
    """A typed, synchronous client for the Codegen API (one connection pool per instance).

    Args:
        token: the API token, or a zero-argument callable returning it (re-read once after
            a 401). Default: ``CODEGEN_API_TOKEN`` (or ``CODEGEN_TOKEN``).
        org_id: the organisation id. Default: ``CODEGEN_ORG_ID``.
        base_url: the API root. Default: ``CODEGEN_API_BASE_URL`` or
            ``https://api.codegen.com``. ``http://`` only for loopback hosts.
        timeout: seconds per request (ignored with ``http_client=``, which keeps its own).
        max_retries: retries after the first attempt; shorthand for ``retry=``.
        retry: the full retry settings.
        rate_limits: client-side budgets; ``None``/``True`` for the documented limits,
            ``False`` to switch them off.
        circuit_breaker: ``None``/``True`` for the default breaker, ``False`` for none.
        http_client: an httpx client to send with (not closed by this client).
        transport: an httpx transport for the client this client creates.
        clock: time and sleeping (default: the system clock).
        insecure_skip_tls_verify: switch TLS certificate checks off (logs a warning).
        plugins: a :class:`~codegen_graph.plugins.PluginManager` or plugins: prompt
            transformers (on create and resume prompts) and run lifecycle hooks; any object
            with the four methods of the client's ``Hooks`` protocol will do.
        metrics: a :class:`~codegen_graph.observability.Metrics` to record requests,
            retries and runs into.
        coordination: share the org's rate budgets, run polling and keyed creates with
            other processes through Redis: a :class:`~codegen_graph.Coordination`, a Redis
            URL, ``True`` (needs ``CODEGEN_REDIS_URL``) or ``False``. Default: on when
            ``CODEGEN_REDIS_URL`` is set. See ``docs/deployment.md``.
    """

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
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        insecure_skip_tls_verify: bool = False,
        plugins: Hooks | Sequence[Hooks] | None = None,
        metrics: Metrics | None = None,
        coordination: Coordination | str | bool | None = None,
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
            coordination=coordination,
        )
        _check_http_args(http_client, transport, insecure_skip_tls_verify)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=timeout, transport=transport, verify=not insecure_skip_tls_verify
        )
        self.agent_runs = AgentRuns(self)
        self._watcher: RunWatcher | None = None
        self._watcher_lock = threading.Lock()
        self.organizations = Organizations(self)
        self.users = Users(self)
        self.repos = Repos(self)
        self.pull_requests = PullRequests(self)
        self.integrations = Integrations(self)
        self.setup_commands = SetupCommands(self)
        self.sandbox = Sandbox(self)
        self.cli_rules = CLIRules(self)
        self.slack_connect = SlackConnect(self)

    def _request(self, spec: RequestSpec[T]) -> T:
        """Run one call with its hooks (prompt plugins, span, lifecycle hooks)."""
        call = self._hooks.call(spec)
        with call.span():
            try:
                result: T = self._drive(cast("RequestSpec[T]", call.spec))
            except BaseException as exc:
                call.failed(exc)
                raise
            call.succeeded(result)
            return result

    def _drive(self, spec: RequestSpec[T]) -> T:
        """Drive the core's plan for ``spec``: send what it says, sleep what it says."""
        plan = self._plan(spec)
        outcome: AttemptOutcome = None
        try:
            while True:
                action = plan.send(outcome)
                if isinstance(action, Sleep):
                    self.clock.sleep(action.seconds)
                    outcome = None
                    continue
                if isinstance(action, Acquire):
                    action.take()
                    outcome = None
                    continue
                started = time.perf_counter()
                try:
                    outcome = self._http.send(action.request)
                except httpx.HTTPError as exc:
                    outcome = exc
                self._hooks.request_sent(
                    action.route, _status(outcome), time.perf_counter() - started
                )
        except StopIteration as done:
            return cast(T, done.value)
        finally:
            plan.close()

    @property
    def watcher(self) -> RunWatcher:
        """The client's one batched run watcher (created on first use)."""
        if self._watcher is None:
            with self._watcher_lock:
                if self._watcher is None:
                    if self.coordination is not None:
                        self._watcher = CoordinatedRunWatcher(self, self.coordination)
                    else:
                        self._watcher = RunWatcher(self)
        return self._watcher

    def close(self) -> None:
        """Close the connection pool (unless the caller passed its own ``http_client``) and
        leave the coordination, if any (its poller lease passes on at once)."""
        self._leave_coordination()
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CodegenClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncCodegenClient(BaseClient):
    """A typed, asynchronous client for the Codegen API (one connection pool per instance).

    Args:
        token: the API token, or a zero-argument callable returning it (re-read once after
            a 401). Default: ``CODEGEN_API_TOKEN`` (or ``CODEGEN_TOKEN``).
        org_id: the organisation id. Default: ``CODEGEN_ORG_ID``.
        base_url: the API root. Default: ``CODEGEN_API_BASE_URL`` or
            ``https://api.codegen.com``. ``http://`` only for loopback hosts.
        timeout: seconds per request (ignored with ``http_client=``, which keeps its own).
        max_retries: retries after the first attempt; shorthand for ``retry=``.
        retry: the full retry settings.
        rate_limits: client-side budgets; ``None``/``True`` for the documented limits,
            ``False`` to switch them off.
        circuit_breaker: ``None``/``True`` for the default breaker, ``False`` for none.
        http_client: an httpx client to send with (not closed by this client).
        transport: an httpx transport for the client this client creates.
        clock: time and sleeping (default: the system clock).
        insecure_skip_tls_verify: switch TLS certificate checks off (logs a warning).
        plugins: a :class:`~codegen_graph.plugins.PluginManager` or plugins: prompt
            transformers (on create and resume prompts) and run lifecycle hooks; any object
            with the four methods of the client's ``Hooks`` protocol will do.
        metrics: a :class:`~codegen_graph.observability.Metrics` to record requests,
            retries and runs into.
        coordination: share the org's rate budgets, run polling and keyed creates with
            other processes through Redis: a :class:`~codegen_graph.Coordination`, a Redis
            URL, ``True`` (needs ``CODEGEN_REDIS_URL``) or ``False``. Default: on when
            ``CODEGEN_REDIS_URL`` is set. See ``docs/deployment.md``.
    """

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
        coordination: Coordination | str | bool | None = None,
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
            coordination=coordination,
        )
        _check_http_args(http_client, transport, insecure_skip_tls_verify)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, transport=transport, verify=not insecure_skip_tls_verify
        )
        self.agent_runs = AsyncAgentRuns(self)
        self._watcher: AsyncRunWatcher | None = None
        self.organizations = AsyncOrganizations(self)
        self.users = AsyncUsers(self)
        self.repos = AsyncRepos(self)
        self.pull_requests = AsyncPullRequests(self)
        self.integrations = AsyncIntegrations(self)
        self.setup_commands = AsyncSetupCommands(self)
        self.sandbox = AsyncSandbox(self)
        self.cli_rules = AsyncCLIRules(self)
        self.slack_connect = AsyncSlackConnect(self)

    async def _request(self, spec: RequestSpec[T]) -> T:
        """Run one call with its hooks (prompt plugins, span, lifecycle hooks)."""
        call = self._hooks.call(spec)
        with call.span():
            try:
                result: T = await self._drive(cast("RequestSpec[T]", call.spec))
            except BaseException as exc:
                call.failed(exc)
                raise
            call.succeeded(result)
            return result

    async def _drive(self, spec: RequestSpec[T]) -> T:
        """Drive the core's plan for ``spec``: send what it says, sleep what it says."""
        plan = self._plan(spec)
        outcome: AttemptOutcome = None
        try:
            while True:
                action = plan.send(outcome)
                if isinstance(action, Sleep):
                    await self.clock.asleep(action.seconds)
                    outcome = None
                    continue
                if isinstance(action, Acquire):  # Redis I/O: off the event loop
                    await asyncio.to_thread(action.take)
                    outcome = None
                    continue
                started = time.perf_counter()
                try:
                    outcome = await self._http.send(action.request)
                except httpx.HTTPError as exc:
                    outcome = exc
                self._hooks.request_sent(
                    action.route, _status(outcome), time.perf_counter() - started
                )
        except StopIteration as done:
            return cast(T, done.value)
        finally:
            plan.close()

    @property
    def watcher(self) -> AsyncRunWatcher:
        """The client's one batched run watcher (created on first use)."""
        if self._watcher is None:
            if self.coordination is not None:
                self._watcher = AsyncCoordinatedRunWatcher(self, self.coordination)
            else:
                self._watcher = AsyncRunWatcher(self)
        return self._watcher

    async def aclose(self) -> None:
        """Close the connection pool (unless the caller passed its own ``http_client``) and
        leave the coordination, if any (its poller lease passes on at once)."""
        if self.coordination is not None:
            await asyncio.to_thread(self._leave_coordination)
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncCodegenClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
