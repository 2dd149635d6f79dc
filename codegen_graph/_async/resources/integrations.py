"""``client.integrations``: the organisation's integrations (GitHub, Slack, Linear, ...)."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._org_models import OrganizationIntegrationsResponse
from ._base import AsyncResource

__all__ = ["AsyncIntegrations"]


def _spec_get(org: int) -> RequestSpec[OrganizationIntegrationsResponse]:
    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/integrations",
        parse=OrganizationIntegrationsResponse.model_validate,
    )


class AsyncIntegrations(AsyncResource):
    """Integrations (``client.integrations``)."""

    async def get(self) -> OrganizationIntegrationsResponse:
        """Every integration of the organisation, active or not."""
        return await self._run(_spec_get(self._org))
