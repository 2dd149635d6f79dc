"""``AsyncCodegenClient``: the requester, wired to its resources, keyed calls and watcher."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from .api import AsyncAPI
from .keyed import AsyncKeyedCreates
from .resources.agent_runs import AsyncAgentRuns
from .resources.organizations import AsyncOrganizations
from .resources.repos import AsyncRepos
from .resources.users import AsyncUsers
from .watcher import AsyncRunWatcher

if TYPE_CHECKING:
    from .resources.cli_rules import AsyncCLIRules
    from .resources.integrations import AsyncIntegrations
    from .resources.pull_requests import AsyncPullRequests
    from .resources.sandbox import AsyncSandbox
    from .resources.setup_commands import AsyncSetupCommands
    from .resources.slack_connect import AsyncSlackConnect

__all__ = ["AsyncCodegenClient"]

_WATCHER_LOCK = threading.Lock()  # one watcher per client, whichever thread asks first


class AsyncCodegenClient(AsyncAPI):
    """A typed, asynchronous client for the Codegen API (one connection pool per instance).

    Args:
        token: the API token, or a zero-argument callable (sync or async) returning it or
            an :class:`~codegen_graph.AccessToken` with its expiry (fetched again ahead of
            the expiry, and once after a 401). Default: ``CODEGEN_API_TOKEN`` (or
            ``CODEGEN_TOKEN``).
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
            transformers (on create and resume prompts), output filters (on every answer
            read through the client) and run lifecycle hooks.
        metrics: a :class:`~codegen_graph.observability.Metrics` to record requests,
            retries and runs into.
        coordination: share the org's rate budgets, run polling and keyed creates with
            other processes through Redis: a :class:`~codegen_graph.Coordination`, a Redis
            URL, ``True`` (needs ``CODEGEN_REDIS_URL``) or ``False``. Default: on when
            ``CODEGEN_REDIS_URL`` is set. See ``docs/deployment.md``.
    """

    _watcher: AsyncRunWatcher | None = None

    @cached_property
    def agent_runs(self) -> AsyncAgentRuns:
        """Agent runs: create, read, resume, stop, wait, batches."""
        return AsyncAgentRuns(self)

    @cached_property
    def organizations(self) -> AsyncOrganizations:
        """The organisations the token can see."""
        return AsyncOrganizations(self)

    @cached_property
    def users(self) -> AsyncUsers:
        """The current user and the organisation's members."""
        return AsyncUsers(self)

    @cached_property
    def repos(self) -> AsyncRepos:
        """The organisation's repositories."""
        return AsyncRepos(self)

    @cached_property
    def pull_requests(self) -> AsyncPullRequests:
        """Change the state of a pull request an agent opened."""
        from .resources.pull_requests import AsyncPullRequests  # rarely used: loaded on first use

        return AsyncPullRequests(self)

    @cached_property
    def integrations(self) -> AsyncIntegrations:
        """The organisation's integrations."""
        from .resources.integrations import AsyncIntegrations  # rarely used: loaded on first use

        return AsyncIntegrations(self)

    @cached_property
    def setup_commands(self) -> AsyncSetupCommands:
        """Have an agent work out a repository's setup commands."""
        from .resources.setup_commands import AsyncSetupCommands  # rarely used: loaded on first use

        return AsyncSetupCommands(self)

    @cached_property
    def sandbox(self) -> AsyncSandbox:
        """Have an agent analyse a sandbox's setup logs."""
        from .resources.sandbox import AsyncSandbox  # rarely used: loaded on first use

        return AsyncSandbox(self)

    @cached_property
    def cli_rules(self) -> AsyncCLIRules:
        """The organisation's rules for the Codegen CLI."""
        from .resources.cli_rules import AsyncCLIRules  # rarely used: loaded on first use

        return AsyncCLIRules(self)

    @cached_property
    def slack_connect(self) -> AsyncSlackConnect:
        """A token to connect Slack."""
        from .resources.slack_connect import AsyncSlackConnect  # rarely used: loaded on first use

        return AsyncSlackConnect(self)

    @cached_property
    def keyed(self) -> AsyncKeyedCreates:
        """Creates and follow-ups at most once per key (internal: ``agent_runs`` uses it)."""
        return AsyncKeyedCreates(self)

    @property
    def watcher(self) -> AsyncRunWatcher:
        """The client's one batched run watcher (created on first use)."""
        if self._watcher is None:
            with _WATCHER_LOCK:
                if self._watcher is None:
                    share = self.coordination
                    source = share.poll_source() if share is not None else None
                    self._watcher = AsyncRunWatcher(self, poll_source=source)
        return self._watcher

    async def aclose(self) -> None:
        """End every pending wait with :class:`~codegen_graph.ClientClosedError`, stop the
        watcher (and leave the shared poller), and close the connection pool (unless the
        caller passed its own ``http_client``). Later calls fail fast with that error."""
        if self._watcher is not None:
            await self._watcher.aclose()
        await super().aclose()
