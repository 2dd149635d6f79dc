"""``client.repos``: the organisation's repositories."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import check_limit, check_skip
from ...models import Page, RepoResponse
from ._base import AsyncResource

__all__ = ["AsyncRepos"]


class AsyncRepos(AsyncResource):
    """Repositories (``client.repos``)."""

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[RepoResponse]:
        """One page of the organisation's repositories."""
        check_skip(skip)
        check_limit(limit)
        return await self._run(
            RequestSpec(
                "GET",
                f"/v1/organizations/{self._org}/repos",
                parse=Page[RepoResponse].model_validate,
                params={"skip": skip, "limit": limit},
            )
        )
