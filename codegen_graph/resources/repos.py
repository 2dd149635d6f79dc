"""``client.repos``: the organisation's repositories."""

from __future__ import annotations

from .._base_client import RequestSpec
from ..models import Page, RepoResponse
from ._resource import AsyncAPIResource, SyncAPIResource, check_limit, check_skip

__all__ = ["AsyncRepos", "Repos"]


def _spec_list(org: int, skip: int, limit: int) -> RequestSpec[Page[RepoResponse]]:
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/repos",
        parse=Page[RepoResponse].model_validate,
        params={"skip": skip, "limit": limit},
    )


class Repos(SyncAPIResource):
    """Repositories (``client.repos``)."""

    def list(self, *, skip: int = 0, limit: int = 100) -> Page[RepoResponse]:
        """One page of the organisation's repositories."""
        return self._run(_spec_list(self._org, skip, limit))


class AsyncRepos(AsyncAPIResource):
    """Repositories (``client.repos``), async."""

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[RepoResponse]:
        """One page of the organisation's repositories."""
        return await self._run(_spec_list(self._org, skip, limit))
