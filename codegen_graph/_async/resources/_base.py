"""What every resource holds: the requester of its client."""

from __future__ import annotations

from typing import TypeVar

from ..._base_client import RequestSpec
from ..requester import AsyncRequester

__all__ = ["AsyncResource"]

T = TypeVar("T")


class AsyncResource:
    """A resource of an :class:`~codegen_graph.AsyncCodegenClient` (``client.<name>``)."""

    def __init__(self, api: AsyncRequester) -> None:
        self._api = api

    @property
    def _org(self) -> int:
        return self._api.org_id

    async def _run(self, spec: RequestSpec[T]) -> T:
        return await self._api.request(spec)
