"""``client.pull_requests``: change the state of a pull request the agent opened."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import build_input, check_id
from ..._org_models import EditPRInput, EditPRResponse, PullRequestState
from ._base import AsyncResource

__all__ = ["AsyncPullRequests"]


def _spec_edit(
    org: int, repo_id: int | None, pr_id: int, state: PullRequestState
) -> RequestSpec[EditPRResponse]:
    check_id("pr_id", pr_id)
    repo = "" if repo_id is None else f"/repos/{check_id('repo_id', repo_id)}"
    return RequestSpec(
        "PATCH",
        f"/v1/organizations/{org}{repo}/prs/{pr_id}",
        parse=EditPRResponse.model_validate,
        json=build_input(EditPRInput, state=state).model_dump(mode="json"),
    )


class AsyncPullRequests(AsyncResource):
    """Pull requests (``client.pull_requests``)."""

    async def edit(self, pr_id: int, *, state: PullRequestState) -> EditPRResponse:
        """Open, close, draft or mark ready for review (``PATCH .../prs/{pr_id}``)."""
        return await self._run(_spec_edit(self._org, None, pr_id, state))

    async def edit_in_repo(
        self, repo_id: int, pr_id: int, *, state: PullRequestState
    ) -> EditPRResponse:
        """The same through the repository's path (``PATCH .../repos/{repo_id}/prs/{pr_id}``)."""
        return await self._run(_spec_edit(self._org, repo_id, pr_id, state))
