"""Retry counts, backoff and Retry-After, measured on a ManualClock (no real sleeping)."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import httpx
import pytest

from codegen_graph import (
    APITimeoutError,
    AsyncCodegenClient,
    CodegenClient,
    ConfigurationError,
    RateLimitError,
    RetryConfig,
    ServerError,
)
from codegen_graph._exceptions import APIStatusError
from codegen_graph._retry import MAX_RETRY_AFTER, backoff, parse_retry_after, retry_delay

from ._fake_api import FakeCodegenAPI

NO_JITTER = RetryConfig(max_retries=2, jitter=False)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock, status: int
) -> None:
    client = make_client(retry=NO_JITTER, circuit_breaker=False)
    api.fail(status, path="/users/me", times=2)
    assert client.users.me().id == 1
    assert api.count("GET", "/users/me") == 3
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_non_retryable_statuses_are_not_retried(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock, status: int
) -> None:
    client = make_client(retry=NO_JITTER)
    api.fail(status, times=5)
    with pytest.raises(APIStatusError) as info:
        client.users.me()
    assert info.value.status_code == status
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_gives_up_after_max_retries(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(
        retry=RetryConfig(max_retries=3, initial_delay=1.0, max_delay=3.0, jitter=False),
        circuit_breaker=False,
    )
    api.fail(503, times=10)
    with pytest.raises(ServerError):
        client.users.me()
    assert len(api.requests) == 4
    assert clock.sleeps == [1.0, 2.0, 3.0]  # doubling, capped at max_delay


def test_max_retries_shorthand_and_zero(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=0)
    api.fail(500)
    with pytest.raises(ServerError):
        client.users.me()
    assert len(api.requests) == 1
    with pytest.raises(ConfigurationError, match="not both"):
        make_client(max_retries=5, retry=RetryConfig(max_retries=1))


def test_connection_errors_and_timeouts_are_retried(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(retry=NO_JITTER)
    api.drop(httpx.ConnectError, after_processing=False)
    api.drop(httpx.ReadTimeout, after_processing=False)
    assert client.users.me().id == 1
    assert len(api.requests) == 3
    api.drop(httpx.ReadTimeout, after_processing=False, times=3)
    with pytest.raises(APITimeoutError):
        client.users.me()


def test_retry_after_seconds_is_honoured(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(retry=NO_JITTER)
    api.fail(429, headers={"retry-after": "7"})
    api.fail(503, headers={"retry-after": "2.5"})
    assert client.users.me().id == 1
    assert clock.sleeps == [7.0, 2.5]
    gaps = [b.at - a.at for a, b in zip(api.requests, api.requests[1:], strict=False)]
    assert gaps == [7.0, 2.5]


def test_retry_after_http_date_is_honoured(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(retry=NO_JITTER)
    when = email.utils.formatdate(clock.now() + 20, usegmt=True)
    api.fail(429, headers={"retry-after": when})
    assert client.users.me().id == 1
    assert clock.sleeps == [pytest.approx(20.0, abs=1.0)]


def test_retry_after_is_capped(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(retry=NO_JITTER)
    api.fail(429, headers={"retry-after": "3600"})
    client.users.me()
    assert clock.sleeps == [MAX_RETRY_AFTER]


def test_429_holds_the_bucket_for_other_calls(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(max_retries=0)
    api.fail(429, headers={"retry-after": "9"})
    with pytest.raises(RateLimitError):
        client.users.me()
    # max_retries=0: nothing held, the next call goes at once
    assert client.rate_budgets.remaining("standard") > 0
    client2 = make_client(retry=NO_JITTER)
    api.fail(429, headers={"retry-after": "9"})
    t0 = clock.now()
    client2.users.me()
    assert api.requests[-1].at - t0 == 9.0


def test_resume_is_not_blindly_repeated(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    run = api.add_run()
    client = make_client()
    api.drop(httpx.ReadTimeout, after_processing=True, path="/resume")
    with pytest.raises(APITimeoutError):
        client.agent_runs.resume(run["id"], "again")
    assert api.count("POST", "/resume") == 1
    api.drop(httpx.ConnectError, after_processing=False, path="/resume")
    client.agent_runs.resume(run["id"], "again")  # never reached the server: safe to retry
    assert api.count("POST", "/resume") == 3


async def test_async_retries(
    make_aclient: Callable[..., AsyncCodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_aclient(retry=NO_JITTER)
    api.fail(500)
    api.fail(429, headers={"retry-after": "3"})
    assert (await client.users.me()).id == 1
    assert clock.sleeps == [0.5, 3.0]
    api.fail(403, times=3)
    with pytest.raises(APIStatusError):
        await client.users.me()
    assert len(api.requests) == 4


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("5", now) == 5.0
    assert parse_retry_after(" 0.25 ", now) == 0.25
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


def test_backoff_and_jitter() -> None:
    cfg = RetryConfig(initial_delay=0.5, max_delay=8.0)
    assert [backoff(a, cfg, lambda: 0.0) for a in (1, 2, 3, 4, 5, 6)] == [0.5, 1, 2, 4, 8, 8]
    assert backoff(3, cfg, lambda: 0.999) == pytest.approx(2 * 0.75025)
    err = ServerError("x", status_code=500)
    assert retry_delay(3, err, cfg, rand=lambda: 0.0) is None  # attempts exhausted
    assert retry_delay(1, err, cfg, retry_after=100.0, rand=lambda: 0.0) == MAX_RETRY_AFTER
