"""What the layers above the requester need of it: a narrow protocol, not the client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from .._base_client import RequestSpec
    from .._config import RetryConfig
    from .._hooks import ClientHooks
    from .._ratelimit import RateLimiter
    from .._shared import SharedOrg
    from ..clock import Clock

__all__ = ["AsyncRequester"]

T = TypeVar("T")


class AsyncRequester(Protocol):
    """Sends request specs for one organisation (``AsyncAPI``; every client is one)."""

    org_id: int
    base_url: str
    clock: Clock
    retry: RetryConfig
    rate_budgets: RateLimiter
    coordination: SharedOrg | None
    hooks: ClientHooks

    async def request(self, spec: RequestSpec[T]) -> T:
        """Run one call to the end: budgets, retries, hooks, parsing (internal)."""
        ...
