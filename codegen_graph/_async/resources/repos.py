"""``client.repos``: the organisation's repositories and their check-suite settings."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from typing_extensions import Unpack

from ..._base_client import RequestSpec
from ..._checks import build_input, check_id, check_limit, check_skip
from ...models import Page, RepoResponse
from ._base import AsyncResource

if TYPE_CHECKING:
    from ..._org_models import CheckSuiteSettings, CheckSuiteSettingsResponse

__all__ = ["AsyncRepos"]


@cache
def _objects() -> TypeAdapter[dict[str, Any]]:
    return TypeAdapter(dict[str, Any])


def _object(data: Any) -> dict[str, Any]:
    """A JSON object answer (the spec gives it no schema), validated on first use."""
    return _objects().validate_python(data)


def _spec_list(org: int, skip: int, limit: int) -> RequestSpec[Page[RepoResponse]]:
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/repos",
        parse=Page[RepoResponse].model_validate,
        params={"skip": skip, "limit": limit},
    )


def _spec_check_suite(org: int, repo_id: int) -> RequestSpec[CheckSuiteSettingsResponse]:
    from ..._org_models import CheckSuiteSettingsResponse  # built on first use

    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/repos/check-suite-settings",
        parse=CheckSuiteSettingsResponse.model_validate,
        params={"repo_id": check_id("repo_id", repo_id)},
    )


def _spec_update_check_suite(
    org: int, repo_id: int, settings: CheckSuiteSettings
) -> RequestSpec[dict[str, Any]]:
    from ..._org_models import CheckSuiteSettingsRequest  # built on first use

    body = build_input(CheckSuiteSettingsRequest, **settings)
    return RequestSpec(
        "PUT",
        f"/v1/organizations/{org}/repos/check-suite-settings",
        parse=_object,
        params={"repo_id": check_id("repo_id", repo_id)},
        json=body.model_dump(mode="json", exclude_none=True),
    )


class AsyncRepos(AsyncResource):
    """Repositories (``client.repos``)."""

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[RepoResponse]:
        """One page of the organisation's repositories."""
        return await self._run(_spec_list(self._org, skip, limit))

    async def check_suite_settings(self, repo_id: int) -> CheckSuiteSettingsResponse:
        """How the agent treats the repository's failing checks."""
        return await self._run(_spec_check_suite(self._org, repo_id))

    async def update_check_suite_settings(
        self, repo_id: int, **settings: Unpack[CheckSuiteSettings]
    ) -> dict[str, Any]:
        """Change the given settings (the others stay); the API's answer, a free-form object."""
        return await self._run(_spec_update_check_suite(self._org, repo_id, settings))
