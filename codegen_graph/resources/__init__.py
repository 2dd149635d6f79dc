"""The API's resources, one module each (named after the spec's tags), every one a sync and
an async class.

Reached through a client (``client.agent_runs``, ``client.organizations``, ``client.users``,
``client.repos``, ``client.pull_requests``, ``client.integrations``,
``client.setup_commands``, ``client.sandbox``, ``client.cli_rules``,
``client.slack_connect``); the classes are exported for type annotations, with what
``agent_runs.run_many`` returns (:class:`BatchItem`) and reports (:class:`BatchProgress`).
"""

from __future__ import annotations

from .._batch import BatchItem, BatchProgress
from .agent_runs import DEFAULT_KEY_LOOKBACK, IDEMPOTENCY_METADATA_KEY, AgentRuns, AsyncAgentRuns
from .cli_rules import AsyncCLIRules, CLIRules
from .integrations import AsyncIntegrations, Integrations
from .organizations import AsyncOrganizations, Organizations
from .pull_requests import AsyncPullRequests, PullRequests
from .repos import AsyncRepos, Repos
from .sandbox import AsyncSandbox, Sandbox
from .setup_commands import AsyncSetupCommands, SetupCommands
from .slack_connect import AsyncSlackConnect, SlackConnect
from .users import AsyncUsers, Users

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
    "Users",
]
