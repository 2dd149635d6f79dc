"""``client.users``: the current user and the organisation's members."""

from __future__ import annotations

from .._base_client import RequestSpec
from ..models import Page, UserResponse
from ._resource import AsyncAPIResource, SyncAPIResource, check_id, check_limit, check_skip

__all__ = ["AsyncUsers", "Users"]


def _spec_me() -> RequestSpec[UserResponse]:
    return RequestSpec("GET", "/v1/users/me", parse=UserResponse.model_validate)


def _spec_list(org: int, skip: int, limit: int) -> RequestSpec[Page[UserResponse]]:
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/users",
        parse=Page[UserResponse].model_validate,
        params={"skip": skip, "limit": limit},
    )


def _spec_get(org: int, user_id: int) -> RequestSpec[UserResponse]:
    check_id("user_id", user_id)
    return RequestSpec(
        "GET", f"/v1/organizations/{org}/users/{user_id}", parse=UserResponse.model_validate
    )


class Users(SyncAPIResource):
    """Users (``client.users``)."""

    def me(self) -> UserResponse:
        """The user the token belongs to."""
        return self._run(_spec_me())

    def list(self, *, skip: int = 0, limit: int = 100) -> Page[UserResponse]:
        """One page of the organisation's users."""
        return self._run(_spec_list(self._org, skip, limit))

    def get(self, user_id: int) -> UserResponse:
        """One user of the organisation."""
        return self._run(_spec_get(self._org, user_id))


class AsyncUsers(AsyncAPIResource):
    """Users (``client.users``), async."""

    async def me(self) -> UserResponse:
        """The user the token belongs to."""
        return await self._run(_spec_me())

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[UserResponse]:
        """One page of the organisation's users."""
        return await self._run(_spec_list(self._org, skip, limit))

    async def get(self, user_id: int) -> UserResponse:
        """One user of the organisation."""
        return await self._run(_spec_get(self._org, user_id))
