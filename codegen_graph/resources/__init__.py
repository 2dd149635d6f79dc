"""The API's resources, one module each, every one a sync and an async class.

Reached through a client (``client.agent_runs``, ``client.organizations``, ``client.users``,
``client.repos``); the classes are exported for type annotations, with what
``agent_runs.run_many`` returns (:class:`BatchItem`) and reports (:class:`BatchProgress`).
"""

from __future__ import annotations

from .._batch import BatchItem, BatchProgress
from .agent_runs import DEFAULT_KEY_LOOKBACK, IDEMPOTENCY_METADATA_KEY, AgentRuns, AsyncAgentRuns
from .organizations import AsyncOrganizations, Organizations
from .repos import AsyncRepos, Repos
from .users import AsyncUsers, Users

__all__ = [
    "DEFAULT_KEY_LOOKBACK",
    "IDEMPOTENCY_METADATA_KEY",
    "AgentRuns",
    "AsyncAgentRuns",
    "AsyncOrganizations",
    "AsyncRepos",
    "AsyncUsers",
    "BatchItem",
    "BatchProgress",
    "Organizations",
    "Repos",
    "Users",
]
