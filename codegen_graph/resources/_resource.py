"""What every resource shares: access to the client, argument checks, pagination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import pydantic

from .._base_client import RequestSpec
from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from .._client import AsyncCodegenClient, CodegenClient

__all__ = [
    "AsyncAPIResource",
    "SyncAPIResource",
    "build_input",
    "check_id",
    "check_limit",
    "check_skip",
    "check_text",
    "next_skip",
]

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

MAX_LIMIT = 100


class SyncAPIResource:
    """A resource of :class:`~codegen_graph.CodegenClient`."""

    def __init__(self, client: CodegenClient) -> None:
        self._client = client

    @property
    def _org(self) -> int:
        return self._client.org_id

    def _run(self, spec: RequestSpec[T]) -> T:
        return self._client._request(spec)


class AsyncAPIResource:
    """A resource of :class:`~codegen_graph.AsyncCodegenClient`."""

    def __init__(self, client: AsyncCodegenClient) -> None:
        self._client = client

    @property
    def _org(self) -> int:
        return self._client.org_id

    async def _run(self, spec: RequestSpec[T]) -> T:
        return await self._client._request(spec)


def check_id(name: str, value: object) -> int:
    """A positive integer id, or :class:`ConfigurationError` before any request."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_limit(value: object, name: str = "limit") -> int:
    """A page size within the API's 1..100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ConfigurationError(f"{name} must be an integer from 1 to {MAX_LIMIT}, got {value!r}")
    return value


def check_skip(value: object) -> int:
    """A non-negative offset."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"skip must be an integer >= 0, got {value!r}")
    return value


def check_text(name: str, value: object) -> str:
    """A non-empty string (such as a prompt)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    return value


def build_input(model_cls: type[M], /, **fields: Any) -> M:
    """A request body model, with pydantic's complaints turned into one clear error."""
    try:
        return model_cls(**{k: v for k, v in fields.items() if v is not None})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)[:5]
        )
        raise ConfigurationError(f"Invalid {model_cls.__name__}: {problems}") from None


def next_skip(skip: int, received: int, total: int | None, page_size: int) -> int | None:
    """The offset of the next page, or ``None`` when the listing is exhausted."""
    if received == 0:
        return None
    nxt = skip + received
    if total is not None and nxt >= total:
        return None
    if total is None and received < page_size:
        return None
    return nxt
