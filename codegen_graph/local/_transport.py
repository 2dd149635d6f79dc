"""httpx transports that call the local backend's ASGI app in process, without sockets.

``httpx.ASGITransport`` is async only; :class:`LocalTransport` gives sync clients the same
path by running the app on a private event loop thread. Both transports turn the app's
"lose this response" marker into the error a real network would produce:
``httpx.RemoteProtocolError`` for a dropped connection and ``httpx.ReadTimeout`` for a
response that never comes (the request was processed either way).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

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
    """Sync transport into the local backend's ASGI app, via a background event loop.

    The loop thread starts on the first request and stops on :meth:`close`.

    Args:
        app: the ASGI app (``LocalCodegen.app``).
    """

    def __init__(self, app: Any) -> None:
        self._async = LocalAsyncTransport(app)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "LocalTransport()"

    def _portal(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="codegen-graph-local", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        inner = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.read()
        )

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._async.handle_async_request(inner)
            content = await response.aread()
            return response.status_code, response.headers.raw, content

        future = asyncio.run_coroutine_threadsafe(call(), self._portal())
        try:
            status, headers, content = future.result()
        except httpx.TransportError as exc:
            raise type(exc)(str(exc), request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()
