"""httpx transports that call the local backend's ASGI app in process, without sockets.

``httpx.ASGITransport`` is async only; :class:`LocalTransport` gives sync clients the same
path by running the app on an anyio blocking portal (an event loop in a daemon thread, one
per transport). Both transports turn the app's
"lose this response" marker into the error a real network would produce:
``httpx.RemoteProtocolError`` for a dropped connection and ``httpx.ReadTimeout`` for a
response that never comes (the request was processed either way).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from ._app import FAULT_HEADER, TRANSPORT_HEADER

__all__ = ["LocalAsyncTransport", "LocalTransport"]


def _lost(kind: str, request: httpx.Request) -> httpx.TransportError:
    if kind == "timeout":
        return httpx.ReadTimeout("Timed out waiting for the response (injected)", request=request)
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a response (injected)", request=request
    )


class LocalAsyncTransport(httpx.AsyncBaseTransport):
    """Async transport into the local backend's ASGI app.

    Args:
        app: the ASGI app (``LocalCodegen.app``).
    """

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    def __repr__(self) -> str:
        return "LocalAsyncTransport()"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[TRANSPORT_HEADER] = "1"
        response = await self._inner.handle_async_request(request)
        fault = response.headers.get(FAULT_HEADER)
        if fault:
            await response.aclose()
            raise _lost(fault, request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class LocalTransport(httpx.BaseTransport):
    """Sync transport into the local backend's ASGI app, via a blocking portal.

    The portal starts on the first request and stops on :meth:`close` (after the requests
    in flight), joining its thread; a request after that starts another. A transport never
    closed stops its portal when it is collected or at interpreter exit, whichever comes
    first: left to the portal generator's own finalizer, it would block the exit for ever
    (the loop's daemon thread no longer runs by then), e.g. in a script that never closes
    ``LocalCodegen().client()``.

    Args:
        app: the ASGI app (``LocalCodegen.app``).
    """

    def __init__(self, app: Any) -> None:
        self._async = LocalAsyncTransport(app)
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._portal: BlockingPortal | None = None
        weakref.finalize(self, self._stack.close)  # runs at exit too (before daemon threads stop)

    def __repr__(self) -> str:
        return "LocalTransport()"

    def _running(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                started = start_blocking_portal(name="codegen-graph-local")
                self._portal = self._stack.enter_context(started)
            return self._portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        inner = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.read()
        )

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._async.handle_async_request(inner)
            content = await response.aread()
            return response.status_code, response.headers.raw, content

        try:
            status, headers, content = self._running().call(call)
        except httpx.TransportError as exc:
            raise type(exc)(str(exc), request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        with self._lock:
            self._portal = None
            self._stack.close()
