"""``client.cli_rules``: the organisation's rules and your custom prompt, for CLI agents."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._org_models import CLIRulesResponse
from ._base import AsyncResource

__all__ = ["AsyncCLIRules"]


def _spec_get(org: int) -> RequestSpec[CLIRulesResponse]:
    return RequestSpec(
        "GET", f"/v1/organizations/{org}/cli/rules", parse=CLIRulesResponse.model_validate
    )


class AsyncCLIRules(AsyncResource):
    """CLI rules (``client.cli_rules``)."""

    async def get(self) -> CLIRulesResponse:
        """The rules an agent working for you should follow."""
        return await self._run(_spec_get(self._org))
