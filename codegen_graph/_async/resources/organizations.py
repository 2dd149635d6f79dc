"""``client.organizations``: the organisations the token can see."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import check_limit, check_skip
from ...models import OrganizationResponse, Page
from ._base import AsyncResource

__all__ = ["AsyncOrganizations"]


def _spec_list(skip: int, limit: int) -> RequestSpec[Page[OrganizationResponse]]:
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        "/v1/organizations",
        parse=Page[OrganizationResponse].model_validate,
        params={"skip": skip, "limit": limit},
    )


class AsyncOrganizations(AsyncResource):
    """Organisations (``client.organizations``)."""

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[OrganizationResponse]:
        """One page of the organisations the token belongs to."""
        return await self._run(_spec_list(skip, limit))
