"""An httpx transport that makes the API's answers about chosen runs malformed (their
``metadata`` a list): for the tests of runs of our own that cannot be read."""

from __future__ import annotations

import json
from typing import Any

import httpx

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.local import LocalCodegen

SECRET = "ghp_secret_in_bad_metadata"


def _spoil(item: dict[str, object]) -> None:
    item["metadata"] = [SECRET]  # a list where the model has an object


class Spoiler:
    """Makes the answers about the runs in ``bad`` malformed: the run on the list pages and
    its own GET, the first ``times`` GETs only when ``times`` is set."""

    def __init__(self, times: int | None = None) -> None:
        self.bad: set[int] = set()
        self.times, self.spoiled_gets = times, 0

    def rewrite(self, request: httpx.Request, body: bytes) -> bytes | None:
        if request.method != "GET" or not self.bad:
            return None
        path = request.url.path
        data = json.loads(body)
        if path.endswith("/agent/runs"):
            for item in data.get("items", []):
                if item.get("id") in self.bad:
                    _spoil(item)
        elif "/agent/run/" in path and data.get("id") in self.bad:
            if self.times is not None and self.spoiled_gets >= self.times:
                return None
            self.spoiled_gets += 1
            _spoil(data)
        else:
            return None
        return json.dumps(data).encode()


class Transport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, spoiler: Spoiler) -> None:
        self.inner, self.spoiler = inner, spoiler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = self.spoiler.rewrite(request, response.read())
        if body is None:
            return response
        return httpx.Response(response.status_code, content=body, headers=response.headers)

    def close(self) -> None:
        self.inner.close()


class AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, spoiler: Spoiler) -> None:
        self.inner, self.spoiler = inner, spoiler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = self.spoiler.rewrite(request, await response.aread())
        if body is None:
            return response
        return httpx.Response(response.status_code, content=body, headers=response.headers)

    async def aclose(self) -> None:
        await self.inner.aclose()


def spoiled_client(local: LocalCodegen, spoiler: Spoiler, **kwargs: Any) -> CodegenClient:
    """A sync client of ``local`` whose answers about ``spoiler.bad`` runs are malformed."""
    return CodegenClient(
        local.token, local.org_id, base_url=local.base_url, clock=local.clock,
        transport=Transport(local.transport(), spoiler), **kwargs,
    )  # fmt: skip


def async_spoiled_client(
    local: LocalCodegen, spoiler: Spoiler, **kwargs: Any
) -> AsyncCodegenClient:
    """:func:`spoiled_client` for the async client."""
    return AsyncCodegenClient(
        local.token, local.org_id, base_url=local.base_url, clock=local.clock,
        transport=AsyncTransport(local.async_transport(), spoiler), **kwargs,
    )  # fmt: skip
