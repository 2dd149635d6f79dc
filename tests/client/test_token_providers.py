"""Token providers at their edge (issue #24): sync and async providers, refresh ahead of an
:class:`AccessToken`'s expiry, one fetch at a time, the 401 re-read, bad providers.

The local backend issues tokens that expire on its (manual) clock and answers 401 after, as
the real API does, so "no 401" is measured on the server side.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import math
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from codegen_graph import (
    AccessToken,
    AsyncCodegenClient,
    AuthenticationError,
    CodegenClient,
    ConfigurationError,
)
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, Outcome, RunContext

CANARY = "cg-CANARY-provider-5d1e0c7b9a"
LIFETIME = 60.0
FLEET_SECONDS = 600.0


class Fleet:
    """Runs lasting the seconds their prompt ends with: ``"run 7 for 240"``."""

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome("COMPLETE", f"done: {ctx.prompt}", duration=float(ctx.prompt.split()[-1]))


class Vault:
    """A secret manager issuing backend tokens valid ``LIFETIME`` s from the fetch, as an
    :class:`AccessToken` (``bare``: the token alone, its expiry untold); counts fetches and
    the most it ever served at once."""

    def __init__(self, backend: LocalCodegen, clock: ManualClock, bare: bool = False) -> None:
        self.backend, self.clock, self.bare = backend, clock, bare
        self.fetched: list[float] = []
        self.busy = self.peak = 0
        self._lock = threading.Lock()

    def _enter(self) -> None:
        with self._lock:
            self.busy += 1
            self.peak = max(self.peak, self.busy)

    def _issue(self) -> str | AccessToken:
        now = self.clock.now()
        with self._lock:
            self.busy -= 1
            self.fetched.append(now)
        token = self.backend.issue_token(expires_at=now + LIFETIME)
        return token if self.bare else AccessToken(token, now + LIFETIME)

    async def aissue(self) -> str | AccessToken:
        self._enter()
        for _ in range(5):  # an HTTP call: other tasks run meanwhile
            await asyncio.sleep(0)
        return self._issue()

    def issue(self) -> str | AccessToken:
        self._enter()
        for _ in range(20):  # give the other threads the GIL meanwhile
            threading.Event().wait(0)
        return self._issue()


class Remote(httpx.AsyncBaseTransport):
    """The backend some event-loop turns away, as over a network: requests overlap, and
    their answers come back one after the other (the k-th after k turns)."""

    def __init__(self, backend: LocalCodegen) -> None:
        self.inner, self.turns = backend.async_transport(), itertools.count()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(next(self.turns)):
            await asyncio.sleep(0)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> Iterator[LocalCodegen]:
    # No rate limits: on a manual clock, each of many tasks waiting for budget moves time on
    # by its own wait; the fleet's time is its runs' and the watcher's.
    with LocalCodegen(clock=clock, behavior=Fleet(), rate_limits=False) as b:
        yield b


def _sync(backend: LocalCodegen, token: Any, **kw: Any) -> CodegenClient:
    kw.setdefault("transport", backend.transport())
    return CodegenClient(
        token, backend.org_id, base_url=backend.base_url, clock=backend.clock, **kw
    )


def _async(backend: LocalCodegen, token: Any, **kw: Any) -> AsyncCodegenClient:
    kw.setdefault("transport", backend.async_transport())
    return AsyncCodegenClient(
        token, backend.org_id, base_url=backend.base_url, clock=backend.clock, **kw
    )


def _answers(backend: LocalCodegen, status: int) -> int:
    return sum(c.get(str(status), 0) for c in backend.stats()["responses"].values())


#: 24 runs of 1 to 10.2 minutes, started together.
PROMPTS = [f"run {i} for {60 + 24 * i}" for i in range(24)]


def _check_fleet(vault: Vault, backend: LocalCodegen, started: float, items: list[Any]) -> None:
    assert all(item.ok for item in items), [item.error for item in items]
    assert backend.clock.now() - started >= FLEET_SECONDS
    gaps = [b - a for a, b in zip(vault.fetched, vault.fetched[1:], strict=False)]
    # One fetch per token, each ahead of the expiry by the margin (min(30 s, 60 s / 10) = 6 s)
    # and not earlier: 10 to 12 fetches in 10 to 11 minutes.
    assert all(LIFETIME - 6 <= gap < LIFETIME for gap in gaps), gaps
    assert 10 <= len(vault.fetched) <= 12, vault.fetched
    assert vault.peak == 1  # never two fetches at once
    assert _answers(backend, 401) == 0
    assert sum(backend.stats()["requests"].values()) > 200  # a busy fleet, not a few calls


async def test_an_async_provider_serves_a_ten_minute_fleet_without_a_401(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    vault = Vault(backend, clock)
    started = clock.now()
    async with _async(backend, vault.aissue, rate_limits=False) as client:
        items = await client.agent_runs.run_many(PROMPTS, concurrency=len(PROMPTS))
    _check_fleet(vault, backend, started, items)


def test_a_sync_provider_serves_a_ten_minute_fleet_on_the_sync_client(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    vault = Vault(backend, clock)
    started = clock.now()
    with _sync(backend, vault.issue, rate_limits=False) as client:
        items = client.agent_runs.run_many(PROMPTS, concurrency=len(PROMPTS))
    _check_fleet(vault, backend, started, items)


def test_an_async_provider_on_the_sync_client_outside_a_loop(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    vault = Vault(backend, clock)
    with _sync(backend, vault.aissue) as client:
        assert client.users.me().id == backend.user_id
        clock.advance(LIFETIME)
        assert client.users.me().id == backend.user_id
    assert len(vault.fetched) == 2 and _answers(backend, 401) == 0


async def test_twenty_tasks_on_an_expired_token_fetch_it_once(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    vault = Vault(backend, clock)
    async with _async(backend, vault.aissue) as client:
        await client.users.me()
        clock.advance(LIFETIME + 1)  # expired: every task finds it stale
        await asyncio.gather(*(client.users.me() for _ in range(20)))
    assert len(vault.fetched) == 2 and vault.peak == 1
    assert _answers(backend, 401) == 0


def test_twenty_threads_on_an_expired_token_fetch_it_once(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    vault = Vault(backend, clock)
    start = threading.Barrier(20)
    with _sync(backend, vault.issue) as client:
        client.users.me()
        clock.advance(LIFETIME + 1)

        def call() -> None:
            start.wait()
            client.users.me()

        threads = [threading.Thread(target=call) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(vault.fetched) == 2 and vault.peak == 1
    assert _answers(backend, 401) == 0


async def test_twenty_tasks_rejected_together_reread_the_provider_once(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    # The provider does not tell the expiry: past it, every task gets a 401, and the first
    # re-read serves them all (the rejection of a token already replaced drops nothing).
    vault = Vault(backend, clock, bare=True)
    async with _async(backend, vault.aissue, transport=Remote(backend)) as client:
        await client.users.me()
        clock.advance(LIFETIME)
        await asyncio.gather(*(client.users.me() for _ in range(20)))
    assert _answers(backend, 401) == 20  # all sent before the first answer came back
    assert len(vault.fetched) == 2 and vault.peak == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_401_rereads_the_provider_once(
    backend: LocalCodegen, clock: ManualClock, kind: str
) -> None:
    # The provider does not tell the expiry: the client learns of it from the 401, re-reads
    # once and goes on; a provider whose token the API never accepts is re-read once.
    vault = Vault(backend, clock, bare=True)
    if kind == "sync":
        with _sync(backend, vault.issue) as client:
            client.users.me()
            clock.advance(LIFETIME)
            client.users.me()
    else:
        async with _async(backend, vault.aissue) as aclient:
            await aclient.users.me()
            clock.advance(LIFETIME)
            await aclient.users.me()
    assert len(vault.fetched) == 2 and _answers(backend, 401) == 1
    calls: list[str] = []

    def rejected() -> str:
        calls.append("cg-never-issued")
        return calls[-1]

    with _sync(backend, rejected) as client, pytest.raises(AuthenticationError):
        client.users.me()
    assert len(calls) == 2 and _answers(backend, 401) == 3  # re-read once, then raised


BAD_VALUES: list[tuple[object, str]] = [
    (None, "it returned NoneType"),
    (42, "it returned int"),
    (b"cg-bytes", "it returned bytes"),
    ("   ", "it returned a blank str"),
    ((CANARY, 60.0), "it returned tuple"),
    (AccessToken(None, 1e10), "it returned an AccessToken holding NoneType"),  # type: ignore[arg-type]
    (AccessToken(CANARY, "soon"), "expires_at must be epoch seconds"),  # type: ignore[arg-type]
    (AccessToken(CANARY, True), "got bool"),
    (AccessToken(CANARY, math.nan), "not NaN"),
    (AccessToken(CANARY, 3600.0), "expired 1699996400 s ago"),  # a lifetime, not a time
]


@pytest.mark.parametrize(("value", "says"), BAD_VALUES, ids=[s for _, s in BAD_VALUES])
async def test_a_bad_value_is_a_configuration_error_naming_its_type(
    backend: LocalCodegen, value: object, says: str
) -> None:
    async def aprovider() -> object:
        return value

    errors: list[ConfigurationError] = []
    with _sync(backend, lambda: value) as client, pytest.raises(ConfigurationError) as info:
        client.users.me()
    errors.append(info.value)
    async with _async(backend, aprovider) as aclient:
        with pytest.raises(ConfigurationError) as ainfo:
            await aclient.users.me()
        errors.append(ainfo.value)
    assert sum(backend.stats()["requests"].values()) == 0  # nothing sent
    for exc in errors:
        assert says in str(exc)
        assert CANARY not in f"{exc} {exc!r} {exc.__cause__} {exc.__context__}"


async def test_a_raising_provider_is_named_by_its_type_only(backend: LocalCodegen) -> None:
    def fails() -> str:
        raise RuntimeError(f"vault sealed; the last token was {CANARY}")

    async def afails() -> str:
        raise KeyError(CANARY)

    errors: list[ConfigurationError] = []
    with _sync(backend, fails) as client, pytest.raises(ConfigurationError) as info:
        client.users.me()
    errors.append(info.value)
    for provider in (fails, afails):
        async with _async(backend, provider) as aclient:
            with pytest.raises(ConfigurationError) as ainfo:
                await aclient.users.me()
            errors.append(ainfo.value)
    said = [str(e) for e in errors]
    assert said == [
        "The token provider raised RuntimeError; check the callable passed as token=...",
        "The token provider raised RuntimeError; check the callable passed as token=...",
        "The token provider raised KeyError; check the callable passed as token=...",
    ]
    for exc in errors:  # not in the chain either: a traceback printer or tracker shows it
        assert exc.__cause__ is None and exc.__context__ is None


async def test_an_async_provider_on_a_sync_client_inside_a_running_loop(
    backend: LocalCodegen,
) -> None:
    async def provider() -> str:
        return backend.token

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _sync(backend, provider) as client, pytest.raises(ConfigurationError) as info:
            client.users.me()
        gc.collect()
    assert str(info.value) == (
        "An async token provider cannot serve a sync CodegenClient inside a running event "
        "loop (Jupyter, an async app): use AsyncCodegenClient there, or a sync provider."
    )
    assert not [w for w in caught if "never awaited" in str(w.message)]
    # The same client with a sync provider works in the same place (a notebook).
    with _sync(backend, lambda: backend.token) as client:
        assert client.users.me().id == backend.user_id


async def test_provided_tokens_never_show(
    backend: LocalCodegen, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend.store.add_token(CANARY, backend.user_id, backend.org_id, expires_at=clock.now() + 60)

    async def provider() -> AccessToken:  # hands out the same token after the server's expiry
        return AccessToken(CANARY, clock.now() + 60)

    texts: list[str] = []
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        for name in ("httpx", "httpcore", "codegen_graph"):
            caplog.set_level(logging.DEBUG, logger=name)
        async with _async(backend, provider) as aclient:
            await aclient.users.me()
            texts += [repr(aclient), str(aclient), repr(aclient._token)]
            clock.advance(120)
            with pytest.raises(AuthenticationError) as info:
                await aclient.users.me()
            errors.append(info.value)
        with _sync(backend, lambda: AccessToken(CANARY, 1.0)) as client:
            with pytest.raises(ConfigurationError) as sinfo:
                client.users.me()
            errors.append(sinfo.value)
            texts += [repr(client), repr(client._token)]
    for exc in errors:
        texts += [str(exc), repr(exc), str(exc.__cause__), str(exc.__context__)]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any("HTTP Request" in t for t in texts)  # httpx did log
    for text in texts:
        assert CANARY not in text


def test_a_backend_token_expires_on_the_backend_clock(
    backend: LocalCodegen, clock: ManualClock
) -> None:
    token = backend.issue_token(expires_at=clock.now() + 10)
    with backend.httpx_client(headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/v1/users/me").json()["id"] == backend.user_id  # the same user
        clock.advance(10)
        gone = http.get("/v1/users/me")
    assert (gone.status_code, gone.json()["message"]) == (401, "Invalid or expired API token.")
    assert backend.issue_token() != backend.issue_token()  # no expiry: valid for good
