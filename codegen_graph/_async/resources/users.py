"""``client.users``: the current user and the organisation's members."""

from __future__ import annotations

from ..._base_client import RequestSpec
from ..._checks import check_id, check_limit, check_skip
from ...models import Page, UserResponse
from ._base import AsyncResource

__all__ = ["AsyncUsers"]


def _spec_list(org: int, skip: int, limit: int) -> RequestSpec[Page[UserResponse]]:
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/users",
        parse=Page[UserResponse].model_validate,
        params={"skip": skip, "limit": limit},
    )


class AsyncUsers(AsyncResource):
    """Users (``client.users``)."""

    async def me(self) -> UserResponse:
        """The user the token belongs to."""
        return await self._run(
            RequestSpec("GET", "/v1/users/me", parse=UserResponse.model_validate)
        )

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[UserResponse]:
        """One page of the organisation's users."""
        return await self._run(_spec_list(self._org, skip, limit))

    async def get(self, user_id: int) -> UserResponse:
        """One user of the organisation."""
        check_id("user_id", user_id)
        path = f"/v1/organizations/{self._org}/users/{user_id}"
        return await self._run(RequestSpec("GET", path, parse=UserResponse.model_validate))
