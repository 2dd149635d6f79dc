"""Pydantic v2 wire models for the Codegen API.

Names and optionality follow Codegen's official OpenAPI spec (``Developer API`` 1.0.0).
Response models keep unknown fields (``extra="allow"``) so a field the API adds tomorrow
never breaks a client today; request models forbid unknown fields so a typo fails before
any request is sent.

This module knows nothing of HTTP, LangChain or LangGraph: the client, the local backend
and the graph layer all share it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ._status import AgentRunStatus

__all__ = [
    "AgentRunLogResponse",
    "AgentRunResponse",
    "AgentRunWithLogsResponse",
    "AgentType",
    "CreateAgentRunInput",
    "GithubPullRequestResponse",
    "OrganizationResponse",
    "OrganizationSettings",
    "Page",
    "RepoResponse",
    "ResumeAgentRunInput",
    "SourceType",
    "StopAgentRunInput",
    "UserResponse",
]

T = TypeVar("T")

AgentType = Literal["codegen", "claude_code"]
PullRequestState = Literal["open", "closed", "draft", "ready_for_review"]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceType(str, Enum):
    """``ApiAgentRunSourceType``: where an agent run was started from."""

    LOCAL = "LOCAL"
    SLACK = "SLACK"
    GITHUB = "GITHUB"
    GITHUB_CHECK_SUITE = "GITHUB_CHECK_SUITE"
    GITHUB_PR_REVIEW = "GITHUB_PR_REVIEW"
    LINEAR = "LINEAR"
    API = "API"
    CHAT = "CHAT"
    JIRA = "JIRA"
    CLICKUP = "CLICKUP"
    MONDAY = "MONDAY"
    SETUP_COMMANDS = "SETUP_COMMANDS"


class GithubPullRequestResponse(_Response):
    """``GithubPullRequestResponse``: a pull request an agent run opened."""

    id: int
    title: str | None = None
    url: str | None = None
    created_at: str
    head_branch_name: str | None = None


class AgentRunResponse(_Response):
    """``AgentRunResponse``: an agent run as the API reports it."""

    id: int
    organization_id: int
    status: AgentRunStatus | None = None
    created_at: str | None = None
    web_url: str | None = None
    result: str | None = None
    summary: str | None = None
    # A source type the spec does not list yet is kept as its string.
    source_type: SourceType | str | None = None
    github_pull_requests: list[GithubPullRequestResponse] | None = None
    metadata: dict[str, Any] | None = None

    # Not a wire field: set by a keyed ``create`` that returned the run an earlier call
    # with the same idempotency key had created (never serialised).
    _reused: bool = PrivateAttr(default=False)

    @property
    def reused(self) -> bool:
        """``True`` when a keyed create returned the run its key already had, not a new one."""
        return self._reused

    @property
    def pr_urls(self) -> list[str]:
        """The URLs of the run's pull requests, in the API's order (those without one skipped)."""
        return [pr.url for pr in self.github_pull_requests or [] if pr.url]


class AgentRunLogResponse(_Response):
    """``AgentRunLogResponse``: one step of the remote agent (plan, tool call, answer...)."""

    agent_run_id: int
    created_at: str | None = None
    tool_name: str | None = None
    message_type: str | None = None
    thought: str | None = None
    observation: dict[str, Any] | str | None = None
    tool_input: dict[str, Any] | None = None
    tool_output: dict[str, Any] | None = None


class AgentRunWithLogsResponse(_Response):
    """``AgentRunWithLogsResponse``: a run with one page of its log entries."""

    id: int
    organization_id: int
    status: AgentRunStatus | None = None
    created_at: str | None = None
    web_url: str | None = None
    result: str | None = None
    metadata: dict[str, Any] | None = None
    logs: list[AgentRunLogResponse]
    total_logs: int | None = None
    page: int | None = None
    size: int | None = None
    pages: int | None = None


class Page(_Response, Generic[T]):
    """``Page[...]``: one page of a listing."""

    items: list[T]
    total: int
    page: int
    size: int
    pages: int


class OrganizationSettings(_Response):
    """``OrganizationSettings``."""

    enable_pr_creation: bool = True
    enable_rules_detection: bool = True


class OrganizationResponse(_Response):
    """``OrganizationResponse``."""

    id: int
    name: str
    settings: OrganizationSettings


class UserResponse(_Response):
    """``UserResponse``."""

    id: int
    email: str | None = None
    github_user_id: str
    github_username: str
    avatar_url: str | None = None
    full_name: str | None = None
    role: str | None = None
    is_admin: bool | None = None


class RepoResponse(_Response):
    """``RepoResponse``. The spec marks every field required, nullable ones included."""

    id: int
    name: str
    full_name: str
    description: str | None
    github_id: str
    organization_id: int
    visibility: str | None
    archived: bool | None
    setup_status: str
    language: str | None


class CreateAgentRunInput(_Request):
    """``CreateAgentRunInput``: the body of ``POST /v1/organizations/{org_id}/agent/run``."""

    prompt: str
    images: list[str] | None = Field(
        default=None, description="Base64 data URIs of images for the agent."
    )
    metadata: dict[str, Any] | None = None
    repo_id: int | None = None
    model: str | None = None
    agent_type: AgentType | None = None


class ResumeAgentRunInput(_Request):
    """``ResumeAgentRunInput``: the body of ``POST .../agent/run/resume``."""

    agent_run_id: int
    prompt: str
    images: list[str] | None = None


class StopAgentRunInput(_Request):
    """``StopAgentRunInput``: the body of ban / unban / remove-from-pr."""

    agent_run_id: int
    before_card_order_id: str | None = None
    after_card_order_id: str | None = None


#: The organisation-level operations' models (``_org_models``), built on first use: most
#: programs never call those operations, and building 15 models costs them ~7 ms at import.
_ORG_MODELS = frozenset(
    {
        "AnalyzeLogsResponse",
        "CLIRulesResponse",
        "CheckSuiteSettings",
        "CheckSuiteSettingsRequest",
        "CheckSuiteSettingsResponse",
        "EditPRInput",
        "EditPRResponse",
        "GenerateSetupCommandsInput",
        "GenerateTokenRequest",
        "GenerateTokenResponse",
        "IntegrationStatus",
        "OAuthProviderResponse",
        "OrganizationIntegrationsResponse",
        "PullRequestState",
        "SetupCommandsResponse",
    }
)


def __getattr__(name: str) -> Any:
    if name in _ORG_MODELS:
        import codegen_graph._org_models as org

        return getattr(org, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
