"""``client.setup_commands``: have an agent work out a repository's setup commands."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import build_input, check_id, check_text
from ..._org_models import GenerateSetupCommandsInput, SetupCommandsResponse
from ._base import AsyncResource

__all__ = ["AsyncSetupCommands"]


def _spec_generate(
    org: int, repo_id: int, prompt: str | None, trigger_source: str | None
) -> RequestSpec[SetupCommandsResponse]:
    body = build_input(
        GenerateSetupCommandsInput,
        repo_id=check_id("repo_id", repo_id),
        prompt=None if prompt is None else check_text("prompt", prompt),
        trigger_source=trigger_source,
    )
    return RequestSpec(
        "POST",
        f"/v1/organizations/{org}/setup-commands/generate",
        parse=SetupCommandsResponse.model_validate,
        json=body.model_dump(mode="json", exclude_none=True),
        idempotent=False,  # each call starts an agent run
    )


class AsyncSetupCommands(AsyncResource):
    """Setup commands (``client.setup_commands``)."""

    async def generate(
        self, repo_id: int, *, prompt: str | None = None, trigger_source: str | None = None
    ) -> SetupCommandsResponse:
        """Start the agent run that generates them; its result holds the commands."""
        return await self._run(_spec_generate(self._org, repo_id, prompt, trigger_source))
