"""``client.integrations``: the organisation's integrations (GitHub, Slack, Linear, ...)."""

from __future__ import annotations

from .._base_client import RequestSpec
from ..models import OrganizationIntegrationsResponse
from ._resource import AsyncAPIResource, SyncAPIResource

__all__ = ["AsyncIntegrations", "Integrations"]


def _spec_get(org: int) -> RequestSpec[OrganizationIntegrationsResponse]:
    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/integrations",
        parse=OrganizationIntegrationsResponse.model_validate,
    )


class Integrations(SyncAPIResource):
    """Integrations (``client.integrations``)."""

    def get(self) -> OrganizationIntegrationsResponse:
        """Every integration of the organisation, active or not."""
        return self._run(_spec_get(self._org))


class AsyncIntegrations(AsyncAPIResource):
    """Integrations (``client.integrations``), async."""

    async def get(self) -> OrganizationIntegrationsResponse:
        """Every integration of the organisation, active or not."""
        return await self._run(_spec_get(self._org))
