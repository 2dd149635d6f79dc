"""Codegen's own SDK surface (``codegen`` 0.57: ``Agent``, ``AgentTask``) on our client.

Code written for the SDK runs after one changed import (``docs/migrating.md``), with the
client's keyed retries, rate budgets, circuit breaker and typed errors. ``task.status`` is
an :class:`~codegen_graph.AgentRunStatus`, equal to the API's ``"COMPLETE"`` and the SDK
docs' ``"completed"`` alike, so loops written against those docs end (with the SDK they
never do). ``task.handle`` is the :class:`~codegen_graph.AgentRun` underneath.
"""

from __future__ import annotations

import logging
from typing import Any

from . import AgentRun, CodegenClient
from ._exceptions import ConfigurationError
from ._status import AgentRunStatus

__all__ = ["Agent", "AgentTask"]

log = logging.getLogger("codegen_graph.compat")


class AgentTask:
    """One agent run, read like the SDK's ``AgentTask`` (``id``, ``org_id``, ``status``,
    ``result``, ``web_url``, ``refresh()``) from ``handle``, an :class:`~codegen_graph.AgentRun`."""

    def __init__(self, handle: AgentRun, org_id: int) -> None:
        self.handle = handle
        self.org_id = org_id
        self._warned = False

    @property
    def id(self) -> int:
        return self.handle.id

    @property
    def status(self) -> AgentRunStatus | None:
        return self.handle.status

    @property
    def result(self) -> str | None:
        return self.handle.result

    @property
    def web_url(self) -> str | None:
        return self.handle.web_url

    def refresh(self) -> None:
        """Fetch the run's current state (one GET, with the client's retries)."""
        self.handle.refresh()
        status = self.status
        if status is not None and status.is_failure and not self._warned:
            # A loop on `status != "completed"` alone spins forever on a failed run.
            self._warned = True
            log.warning("agent run %s ended %s; it will not become completed", self.id, status)

    def __repr__(self) -> str:
        status = self.status.raw if self.status is not None else None
        return f"AgentTask(id={self.id}, org_id={self.org_id}, status={status!r})"


class Agent:
    """The SDK's ``Agent``: ``run(prompt)`` starts a run, ``get_status()`` reads the last one.

    Args:
        token: the API token. Default: ``CODEGEN_API_TOKEN`` (or ``CODEGEN_TOKEN``).
        org_id: the organisation. Default: ``CODEGEN_ORG_ID``; unlike the SDK there is no
            fallback to organisation 1: a missing one is a ``ConfigurationError``.
        base_url: the API root. Default: ``CODEGEN_API_BASE_URL``, else Codegen's API.
        client: a :class:`~codegen_graph.CodegenClient` of yours (its retries, plugins,
            metrics, or a local backend's client), instead of the three above.

    Attributes:
        token, org_id, current_job: as in the SDK (``repr`` never shows the token).
        api_client: the :class:`~codegen_graph.CodegenClient`; ``agents_api``: its
            ``agent_runs``.
    """

    def __init__(
        self,
        token: str | None = None,
        org_id: int | str | None = None,
        base_url: str | None = None,
        *,
        client: CodegenClient | None = None,
    ) -> None:
        if client is not None and (token, org_id, base_url) != (None, None, None):
            raise ConfigurationError(
                "Agent(client=...) takes its token, org_id and base_url from the client; "
                "pass either the client or those three"
            )
        if client is not None and not isinstance(client, CodegenClient):
            raise ConfigurationError(
                f"Agent(client=...) needs a codegen_graph.CodegenClient (the SDK's calls are "
                f"synchronous), got {type(client).__name__}"
            )
        self._owns_client = client is None
        self.api_client = client or CodegenClient(token, org_id, base_url=base_url)
        self.token = token
        self.org_id = self.api_client.org_id
        self.agents_api = self.api_client.agent_runs
        self.current_job: AgentTask | None = None

    def run(self, prompt: str) -> AgentTask:
        """Start an agent run on ``prompt`` (a non-empty string); it becomes ``current_job``."""
        self.current_job = AgentTask(self.agents_api.start(prompt), self.org_id)
        return self.current_job

    def get_status(self) -> dict[str, Any] | None:
        """Refresh ``current_job`` and return its ``id``, ``status``, ``result`` and
        ``web_url``; ``None`` before the first :meth:`run`."""
        job = self.current_job
        if job is None:
            return None
        job.refresh()
        return {"id": job.id, "status": job.status, "result": job.result, "web_url": job.web_url}

    def close(self) -> None:
        """Close the connection pool (not a ``client=`` of yours); the SDK has no such call."""
        if self._owns_client:
            self.api_client.close()

    def __repr__(self) -> str:
        return f"Agent(org_id={self.org_id}, current_job={self.current_job!r})"
