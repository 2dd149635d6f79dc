"""The API's resources, reached through a client (``client.agent_runs``,
``client.organizations``, ``client.users``, ``client.repos``); the classes are exported for
type annotations, with what ``agent_runs.run_many`` returns (:class:`BatchItem`) and
reports (:class:`BatchProgress`). Each is written once, async (``_async/resources``); the
sync classes are generated from them.
"""

from __future__ import annotations

from .._async.batch import BatchItem, BatchProgress
from .._async.resources.agent_runs import AsyncAgentRuns
from .._async.resources.organizations import AsyncOrganizations
from .._async.resources.repos import AsyncRepos
from .._async.resources.users import AsyncUsers
from .._specs import DEFAULT_KEY_LOOKBACK, IDEMPOTENCY_METADATA_KEY, TimeLike
from .._sync.resources.agent_runs import AgentRuns
from .._sync.resources.organizations import Organizations
from .._sync.resources.repos import Repos
from .._sync.resources.users import Users

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
    "TimeLike",
    "Users",
]
