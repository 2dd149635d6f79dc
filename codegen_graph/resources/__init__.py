"""The API's resources, one module each (named after the official spec's tags), reached
through a client: ``client.agent_runs``, ``client.organizations``, ``client.users``,
``client.repos``, ``client.pull_requests``, ``client.integrations``,
``client.setup_commands``, ``client.sandbox``, ``client.cli_rules`` and
``client.slack_connect``. The classes are exported for type annotations, with what
``agent_runs.run_many`` returns (:class:`BatchItem`) and reports (:class:`BatchProgress`).
Each is written once, async (``_async/resources``); the sync classes are generated.
"""

from __future__ import annotations

from .._async.batch import BatchItem, BatchProgress
from .._async.resources.agent_runs import AsyncAgentRuns
from .._async.resources.cli_rules import AsyncCLIRules
from .._async.resources.integrations import AsyncIntegrations
from .._async.resources.organizations import AsyncOrganizations
from .._async.resources.pull_requests import AsyncPullRequests
from .._async.resources.repos import AsyncRepos
from .._async.resources.sandbox import AsyncSandbox
from .._async.resources.setup_commands import AsyncSetupCommands
from .._async.resources.slack_connect import AsyncSlackConnect
from .._async.resources.users import AsyncUsers
from .._specs import DEFAULT_KEY_LOOKBACK, IDEMPOTENCY_METADATA_KEY, TimeLike
from .._sync.resources.agent_runs import AgentRuns
from .._sync.resources.cli_rules import CLIRules
from .._sync.resources.integrations import Integrations
from .._sync.resources.organizations import Organizations
from .._sync.resources.pull_requests import PullRequests
from .._sync.resources.repos import Repos
from .._sync.resources.sandbox import Sandbox
from .._sync.resources.setup_commands import SetupCommands
from .._sync.resources.slack_connect import SlackConnect
from .._sync.resources.users import Users

__all__ = [
    "DEFAULT_KEY_LOOKBACK",
    "IDEMPOTENCY_METADATA_KEY",
    "AgentRuns",
    "AsyncAgentRuns",
    "AsyncCLIRules",
    "AsyncIntegrations",
    "AsyncOrganizations",
    "AsyncPullRequests",
    "AsyncRepos",
    "AsyncSandbox",
    "AsyncSetupCommands",
    "AsyncSlackConnect",
    "AsyncUsers",
    "BatchItem",
    "BatchProgress",
    "CLIRules",
    "Integrations",
    "Organizations",
    "PullRequests",
    "Repos",
    "Sandbox",
    "SetupCommands",
    "SlackConnect",
    "TimeLike",
    "Users",
]
