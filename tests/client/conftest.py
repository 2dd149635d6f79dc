"""Fixtures: a fake Codegen API on a MockTransport and clients wired to it, on a ManualClock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock

from ._fake_api import ORG_ID, TOKEN, FakeCodegenAPI


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> FakeCodegenAPI:
    return FakeCodegenAPI(clock=clock)


@pytest.fixture
def make_client(api: FakeCodegenAPI, clock: ManualClock) -> Iterator[Callable[..., CodegenClient]]:
    made: list[CodegenClient] = []

    def make(**kw: Any) -> CodegenClient:
        kw.setdefault("token", TOKEN)
        kw.setdefault("org_id", ORG_ID)
        kw.setdefault("clock", clock)
        kw.setdefault("transport", api.transport())
        c = CodegenClient(**kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
async def make_aclient(
    api: FakeCodegenAPI, clock: ManualClock
) -> AsyncIterator[Callable[..., AsyncCodegenClient]]:
    made: list[AsyncCodegenClient] = []

    def make(**kw: Any) -> AsyncCodegenClient:
        kw.setdefault("token", TOKEN)
        kw.setdefault("org_id", ORG_ID)
        kw.setdefault("clock", clock)
        kw.setdefault("transport", api.transport())
        c = AsyncCodegenClient(**kw)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


@pytest.fixture
def client(make_client: Callable[..., CodegenClient]) -> CodegenClient:
    return make_client()


@pytest.fixture
def aclient(make_aclient: Callable[..., AsyncCodegenClient]) -> AsyncCodegenClient:
    return make_aclient()
