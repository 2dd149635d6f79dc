"""``client.sandbox``: have an agent analyse a sandbox's setup logs."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import check_id
from ..._org_models import AnalyzeLogsResponse
from ._base import AsyncResource

__all__ = ["AsyncSandbox"]


def _spec_analyze_logs(org: int, sandbox_id: int) -> RequestSpec[AnalyzeLogsResponse]:
    check_id("sandbox_id", sandbox_id)
    return RequestSpec(
        "POST",
        f"/v1/organizations/{org}/sandbox/{sandbox_id}/analyze-logs",
        parse=AnalyzeLogsResponse.model_validate,
        idempotent=False,  # each call starts an agent run
    )


class AsyncSandbox(AsyncResource):
    """Sandboxes (``client.sandbox``)."""

    async def analyze_logs(self, sandbox_id: int) -> AnalyzeLogsResponse:
        """Start the agent run that analyses the logs; its result holds the analysis."""
        return await self._run(_spec_analyze_logs(self._org, sandbox_id))
