"""Wire models of the organisation-level operations (check-suite settings, pull request
edits, integrations, setup commands, sandbox logs, MCP providers, OAuth tokens, CLI rules,
Slack): reached as :mod:`codegen_graph.models` attributes, built on first use so that
``import codegen_graph`` does not pay for them."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from ._status import AgentRunStatus


class _Response(BaseModel):  # as in models: unknown fields kept
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Request(BaseModel):  # as in models: a typo fails before any request
    model_config = ConfigDict(extra="forbid")


#: The states a pull request edit can set (``EditPRInput.state``).
PullRequestState = Literal["open", "closed", "draft", "ready_for_review"]


class CheckSuiteSettingsResponse(_Response):
    """``CheckSuiteSettingsResponse``: how the agent treats a repository's failing checks."""

    check_retry_count: int
    ignored_checks: list[str]
    check_retry_counts: dict[str, int]
    custom_prompts: dict[str, str]
    high_priority_apps: list[str]
    available_check_suite_names: list[str]


class CheckSuiteSettings(TypedDict, total=False):
    """The keyword arguments of ``update_check_suite_settings`` (``CheckSuiteSettingsRequest``)."""

    check_retry_count: int
    ignored_checks: list[str]
    check_retry_counts: dict[str, int]
    custom_prompts: dict[str, str]
    high_priority_apps: list[str]


class CheckSuiteSettingsRequest(_Request):
    """``CheckSuiteSettingsRequest``: the settings to change (``None``: left as they are)."""

    check_retry_count: int | None = Field(default=None, ge=0, le=10)
    ignored_checks: list[str] | None = None
    check_retry_counts: dict[str, int] | None = None
    custom_prompts: dict[str, str] | None = None
    high_priority_apps: list[str] | None = None


class EditPRInput(_Request):
    """``EditPRInput``: the body of both pull request edits."""

    state: PullRequestState


class EditPRResponse(_Response):
    """``EditPRResponse``: the pull request after the edit, or ``success=False`` and ``error``."""

    success: bool
    url: str | None = None
    number: int | None = None
    title: str | None = None
    state: str | None = None
    error: str | None = None


class IntegrationStatus(_Response):
    """``IntegrationStatus``: one integration of the organisation."""

    integration_type: str
    active: bool
    token_id: int | None = None
    installation_id: int | None = None
    metadata: dict[str, Any] | None = None


class OrganizationIntegrationsResponse(_Response):
    """``OrganizationIntegrationsResponse``."""

    organization_id: int
    organization_name: str
    integrations: list[IntegrationStatus]
    total_active_integrations: int


class GenerateSetupCommandsInput(_Request):
    """``GenerateSetupCommandsInput`` (``trigger_source`` omitted: the API's default)."""

    repo_id: int
    prompt: str | None = None
    trigger_source: str | None = None


class SetupCommandsResponse(_Response):
    """``SetupCommandsResponse``: the agent run that generates the setup commands."""

    agent_run_id: int
    status: AgentRunStatus
    url: str


class AnalyzeLogsResponse(_Response):
    """``AnalyzeLogsResponse``: the agent run that analyses a sandbox's setup logs."""

    agent_run_id: int
    status: AgentRunStatus
    message: str


class OAuthProviderResponse(_Response):
    """``OAuthProviderResponse``: an OAuth provider (``GET /v1/mcp-providers`` lists MCP ones)."""

    id: int
    name: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    default_scopes: list[str] | None
    is_mcp: bool
    meta: dict[str, Any] | None = None


class CLIRulesResponse(_Response):
    """``CLIRulesResponse``: the rules a CLI agent should follow."""

    organization_rules: str | None
    user_custom_prompt: str | None


class GenerateTokenRequest(_Request):
    """``GenerateTokenRequest``: the body of ``POST /v1/slack-connect/generate-token``."""

    org_id: int


class GenerateTokenResponse(_Response):
    """``GenerateTokenResponse``: a one-time Slack connect token (kept out of the repr)."""

    token: str = Field(repr=False)
    message: str
    expires_in_minutes: int
