"""No duplicate run when a create's response is lost after the server processed it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from codegen_graph import (
    IDEMPOTENCY_METADATA_KEY,
    APITimeoutError,
    AsyncCodegenClient,
    CodegenClient,
    ServerError,
)

from ._fake_api import FakeCodegenAPI

CREATE = r"/agent/run$"


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_lost_response_returns_the_existing_run(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, exc: type[httpx.HTTPError]
) -> None:
    for _ in range(3):
        api.add_run()  # other runs in the org
    client = make_client()
    api.drop(exc, after_processing=True, method="POST", path=CREATE)
    run = client.agent_runs.create("do it", idempotency_key="k-1")
    assert len(api.runs) == 4  # exactly one new run
    assert api.count("POST", CREATE) == 1  # never posted again
    # Looked up twice: before the first POST (a key of the caller's may have a run) and
    # before the retry.
    assert api.count("GET", r"/agent/runs$") == 2
    assert run.metadata is not None
    assert run.metadata[IDEMPOTENCY_METADATA_KEY] == "k-1"
    assert run.id == max(api.runs)


async def test_lost_response_async(
    make_aclient: Callable[..., AsyncCodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_aclient()
    api.drop(httpx.ReadTimeout, after_processing=True, method="POST", path=CREATE)
    run = await client.agent_runs.create("do it")  # generated key
    assert len(api.runs) == 1
    assert api.count("POST", CREATE) == 1
    assert run.id in api.runs


def test_processed_then_5xx_is_not_duplicated(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    # A gateway may answer 502/504 after the backend did create the run.
    client = make_client()
    original = api._create

    def create_then_fail(body: object) -> httpx.Response:
        original(body)
        return httpx.Response(504, text="<html>Gateway Timeout</html>")

    api._create = create_then_fail  # type: ignore[method-assign]
    run = client.agent_runs.create("x")
    assert len(api.runs) == 1
    assert run.id in api.runs


def test_not_processed_is_posted_again(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, clock
) -> None:
    client = make_client()
    api.drop(httpx.ReadTimeout, after_processing=False, method="POST", path=CREATE)
    api.fail(503, method="POST", path=CREATE)
    run = client.agent_runs.create("x")
    assert len(api.runs) == 1
    assert api.count("POST", CREATE) == 3
    assert api.count("GET", r"/agent/runs$") == 2  # a lookup before each retry
    assert run.id in api.runs


def test_lookup_failure_does_not_repost(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=1)
    api.drop(httpx.ReadTimeout, after_processing=True, method="POST", path=CREATE)
    api.fail(500, method="GET", path=r"/agent/runs$", times=5)
    with pytest.raises(APITimeoutError) as info:
        client.agent_runs.create("x")
    assert isinstance(info.value.__cause__, ServerError)
    assert api.count("POST", CREATE) == 1
    assert len(api.runs) == 1


def test_same_key_twice_returns_same_run_after_lost_response(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client()
    first = client.agent_runs.create("x", idempotency_key="same")
    api.drop(httpx.RemoteProtocolError, after_processing=False, method="POST", path=CREATE)
    # The lookup finds the earlier run with this key: a caller retrying its own call
    # with the same key after a failure does not get a second run.
    again = client.agent_runs.create("x", idempotency_key="same")
    assert again.id == first.id
    assert len(api.runs) == 1
