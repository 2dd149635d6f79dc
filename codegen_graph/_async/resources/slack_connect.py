"""``client.slack_connect``: a one-time token to link your Slack account to Codegen."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import build_input
from ..._org_models import GenerateTokenRequest, GenerateTokenResponse
from ._base import AsyncResource

__all__ = ["AsyncSlackConnect"]


def _spec_generate_token(org: int) -> RequestSpec[GenerateTokenResponse]:
    return RequestSpec(
        "POST",
        "/v1/slack-connect/generate-token",
        parse=GenerateTokenResponse.model_validate,
        json=build_input(GenerateTokenRequest, org_id=org).model_dump(mode="json"),
    )


class AsyncSlackConnect(AsyncResource):
    """Slack connect (``client.slack_connect``)."""

    async def generate_token(self) -> GenerateTokenResponse:
        """A token to send the Codegen bot in a Slack DM (it says how, and when it expires)."""
        return await self._run(_spec_generate_token(self._org))
