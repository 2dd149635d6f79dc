"""The circuit breaker: closed -> open -> half-open -> closed (or open again)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from codegen_graph import (
    APIConnectionError,
    APIStatusError,
    AsyncCodegenClient,
    CircuitBreakerConfig,
    CircuitOpenError,
    CodegenClient,
    ServerError,
)

from ._fake_api import FakeCodegenAPI

CFG = CircuitBreakerConfig(failure_threshold=3, cooldown=30.0)


def test_opens_fails_fast_then_probes(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(max_retries=0, circuit_breaker=CFG)
    api.fail(500, times=3)
    for _ in range(3):
        with pytest.raises(ServerError):
            client.users.me()
    assert client.circuit.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        client.users.me()
    assert len(api.requests) == 3  # failed fast, nothing sent
    assert info.value.retry_at == pytest.approx(clock.now() + 30.0)
    clock.advance(30.0)
    assert client.circuit.state == "half_open"
    assert client.users.me().id == 1  # the probe succeeds
    assert client.circuit.state == "closed"
    assert client.circuit.consecutive_failures == 0


def test_failed_probe_reopens(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client(max_retries=0, circuit_breaker=CFG)
    api.drop(httpx.ConnectError, after_processing=False, times=4)
    for _ in range(3):
        with pytest.raises(APIConnectionError):
            client.users.me()
    clock.advance(31.0)
    with pytest.raises(APIConnectionError, match="ConnectError"):
        client.users.me()  # the probe fails
    assert client.circuit.state == "open"
    with pytest.raises(CircuitOpenError):
        client.users.me()


def test_half_open_lets_exactly_one_probe(clock) -> None:
    from codegen_graph._circuit import CircuitBreaker
    from codegen_graph._exceptions import ServerError as SE

    breaker = CircuitBreaker(CircuitBreakerConfig(failure_threshold=1, cooldown=5.0), clock)
    breaker.record(SE("x", status_code=503))
    assert breaker.state == "open"
    clock.advance(5.0)
    assert breaker.before_call() is True
    with pytest.raises(CircuitOpenError, match="probe in flight"):
        breaker.before_call()
    breaker.abandon(probe=True)  # e.g. the probing task was cancelled
    assert breaker.before_call() is True
    breaker.record(None, probe=True)
    assert breaker.state == "closed"
    assert breaker.before_call() is False


def test_answers_reset_and_429_does_not_open(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=0, circuit_breaker=CFG)
    for status in (500, 500, 404, 500, 500, 429, 429, 429, 400):
        api.fail(status)
        with pytest.raises(APIStatusError):
            client.users.me()
    assert client.circuit.state == "closed"


def test_retries_count_towards_opening(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=5, circuit_breaker=CFG)
    api.fail(503, times=10)
    with pytest.raises(CircuitOpenError) as info:
        client.users.me()
    assert len(api.requests) == 3
    assert isinstance(info.value.__cause__, ServerError)
    assert re.search(r"let through in 2\d\.\ds", str(info.value))


def test_disabled(make_client: Callable[..., CodegenClient], api: FakeCodegenAPI) -> None:
    client = make_client(max_retries=0, circuit_breaker=False)
    api.fail(500, times=20)
    for _ in range(20):
        with pytest.raises(ServerError):
            client.users.me()
    assert client.circuit.state == "disabled"
    assert len(api.requests) == 20


def test_on_by_default(make_client: Callable[..., CodegenClient]) -> None:
    client = make_client()
    assert client.circuit.enabled
    assert client.circuit.config == CircuitBreakerConfig()


async def test_async_breaker(
    make_aclient: Callable[..., AsyncCodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_aclient(max_retries=0, circuit_breaker=CFG)
    api.fail(502, times=3)
    for _ in range(3):
        with pytest.raises(ServerError):
            await client.users.me()
    with pytest.raises(CircuitOpenError):
        await client.users.me()
    clock.advance(30.0)
    assert (await client.users.me()).id == 1
    assert client.circuit.state == "closed"
