"""``client.organizations``: the organisations the token can see, MCP providers, OAuth tokens.

The spec tags the MCP provider and OAuth token operations ``organizations``; their answers
(status, revoke) have no schema, so they come back as decoded JSON.
"""

from __future__ import annotations

import builtins
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue, TypeAdapter

from ..._base_client import RequestSpec
from ..._checks import check_limit, check_skip, check_text
from ...models import OrganizationResponse, Page
from ._base import AsyncResource

if TYPE_CHECKING:
    from ..._org_models import OAuthProviderResponse

__all__ = ["AsyncOrganizations"]


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    """The answers' validators, built on first use (not at ``import codegen_graph``)."""
    from ..._org_models import OAuthProviderResponse

    return TypeAdapter(list[OAuthProviderResponse] if kind == "providers" else JsonValue)


def _json(data: Any) -> JsonValue:
    return _adapter("json").validate_python(data)  # type: ignore[no-any-return]


def _spec_list(skip: int, limit: int) -> RequestSpec[Page[OrganizationResponse]]:
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        "/v1/organizations",
        parse=Page[OrganizationResponse].model_validate,
        params={"skip": skip, "limit": limit},
    )


def _spec_mcp_providers() -> RequestSpec[list[OAuthProviderResponse]]:
    return RequestSpec("GET", "/v1/mcp-providers", parse=_adapter("providers").validate_python)


def _spec_oauth_status(org: int) -> RequestSpec[JsonValue]:
    return RequestSpec("GET", "/v1/oauth/tokens/status", parse=_json, params={"org_id": org})


def _spec_oauth_revoke(org: int, provider: str) -> RequestSpec[JsonValue]:
    params = {"provider": check_text("provider", provider), "org_id": org}
    return RequestSpec("POST", "/v1/oauth/tokens/revoke", parse=_json, params=params)


class AsyncOrganizations(AsyncResource):
    """Organisations (``client.organizations``)."""

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[OrganizationResponse]:
        """One page of the organisations the token belongs to."""
        return await self._run(_spec_list(skip, limit))

    async def mcp_providers(self) -> builtins.list[OAuthProviderResponse]:
        """The OAuth providers that are MCP servers."""
        return await self._run(_spec_mcp_providers())

    async def oauth_token_status(self) -> JsonValue:
        """The providers with active OAuth tokens for you in the organisation (a list of names)."""
        return await self._run(_spec_oauth_status(self._org))

    async def revoke_oauth_token(self, *, provider: str) -> JsonValue:
        """Deactivate your OAuth tokens for ``provider`` in the organisation."""
        return await self._run(_spec_oauth_revoke(self._org, provider))
