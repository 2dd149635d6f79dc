"""A provider's token with an expiry is fetched again before it expires, an async provider
serves the async client, and a client fetches one token at a time (``docs/client.md``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from codegen_graph import AccessToken, AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock

from ._fake_api import TOKEN, FakeCodegenAPI


def test_an_access_token_is_fetched_again_ahead_of_its_expiry(
    make_client: Callable[..., CodegenClient], clock: ManualClock, api: FakeCodegenAPI
) -> None:
    fetched: list[float] = []

    def vault() -> AccessToken:
        fetched.append(clock.now())
        return AccessToken(TOKEN, expires_at=clock.now() + 3600)

    client = make_client(token=vault)
    start = clock.now()
    client.users.me()
    clock.advance(3569)  # 31 s left: the margin is 30 s (a tenth of the lifetime at most)
    client.users.me()
    clock.advance(2)
    client.users.me()
    assert fetched == [start, start + 3571]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in api.requests)


def test_a_short_lived_token_is_fetched_a_tenth_of_its_lifetime_ahead(
    make_client: Callable[..., CodegenClient], clock: ManualClock
) -> None:
    fetched: list[float] = []

    def vault() -> AccessToken:
        fetched.append(clock.now())
        return AccessToken(TOKEN, expires_at=clock.now() + 60)

    client = make_client(token=vault)
    client.users.me()
    clock.advance(53)
    client.users.me()
    clock.advance(1)  # 54 s: 6 s left, a tenth of 60
    client.users.me()
    assert len(fetched) == 2


async def test_an_async_provider_is_fetched_once_for_concurrent_calls(
    make_aclient: Callable[..., AsyncCodegenClient],
) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)  # the other calls arrive while this fetch is under way
        return TOKEN

    client = make_aclient(token=provider)
    await asyncio.gather(*(client.users.me() for _ in range(8)))
    assert calls == 1
