"""Each error class from its status and body; connection errors; bad 200 bodies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from codegen_graph import (
    AgentRunLimitReachedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncCodegenClient,
    AuthenticationError,
    BadRequestError,
    CodegenClient,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    UnprocessableEntityError,
)

from ._fake_api import ORG_ID, FakeCodegenAPI

RUN_PATH = f"/v1/organizations/{ORG_ID}/agent/run/5"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, AgentRunLimitReachedError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (408, APIStatusError),
        (409, ConflictError),
        (418, APIStatusError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
    ],
)
def test_status_maps_to_class(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, status: int, cls: type
) -> None:
    client = make_client(max_retries=0)
    api.fail(
        status,
        json_body={"message": f"spec message {status}", "status_code": status},
        headers={"x-request-id": "req-123"},
    )
    with pytest.raises(cls) as info:
        client.agent_runs.get(5)
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.message == f"spec message {status}"
    assert (err.method, err.path, err.request_id) == ("GET", RUN_PATH, "req-123")
    assert str(err) == f"HTTP {status}: spec message {status} (GET {RUN_PATH}, request id req-123)"


def test_422_detail_list(make_client: Callable[..., CodegenClient], api: FakeCodegenAPI) -> None:
    client = make_client()
    detail = [
        {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"},
        {"loc": ["query", "limit"], "msg": "too big", "type": "less_than_equal"},
    ]
    api.fail(422, json_body={"detail": detail})
    with pytest.raises(UnprocessableEntityError) as info:
        client.agent_runs.create("x")
    assert info.value.detail == detail
    assert info.value.message == "prompt: Field required; query.limit: too big"
    assert api.count("POST", r"/agent/run$") == 1  # 422 is never retried


def test_429_retry_after_attribute(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=0)
    api.fail(429, headers={"retry-after": "12"})
    with pytest.raises(RateLimitError) as info:
        client.users.me()
    assert info.value.retry_after == 12.0


def test_html_proxy_error_page(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=0)
    page = (
        "<html><head><title>502</title><style>body{color:red}</style></head><body>"
        "<h1>502 Bad Gateway</h1><p>nginx</p>" + "<p>padding</p>" * 200 + "</body></html>"
    )
    api.fail(502, text=page, headers={"content-type": "text/html"})
    with pytest.raises(ServerError) as info:
        client.users.me()
    text = str(info.value)
    assert "HTML page" in text
    assert "502 Bad Gateway nginx" in text
    assert "<h1>" not in text
    assert "color:red" not in text
    assert len(text) < 400
    assert isinstance(info.value.body, str)
    assert len(info.value.body) <= 200


def test_query_string_not_in_path(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(max_retries=0)
    api.fail(500)
    with pytest.raises(ServerError) as info:
        client.agent_runs.list(skip=3, limit=5, user_id=2)
    assert info.value.path == f"/v1/organizations/{ORG_ID}/agent/runs"
    assert "?" not in str(info.value)


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (
            httpx.Response(
                200, text="<html>maintenance</html>", headers={"content-type": "text/html"}
            ),
            "Expected a JSON body but got text/html",
        ),
        (httpx.Response(200, text="{not json"), "Expected a JSON body"),
        (
            httpx.Response(200, json={"id": "seven", "organization_id": ORG_ID}),
            "id: Input should be a valid integer",
        ),
        (httpx.Response(200, json=[1, 2, 3]), "does not match the API's model"),
        (httpx.Response(200, json={"organization_id": ORG_ID}), "id: Field required"),
    ],
)
def test_bad_success_bodies(response: httpx.Response, needle: str) -> None:
    client = CodegenClient(
        "t", 1, transport=httpx.MockTransport(lambda _r: response), rate_limits=False
    )
    with pytest.raises(ResponseValidationError) as info:
        client.agent_runs.get(1)
    assert needle in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert info.value.path == "/v1/organizations/1/agent/run/1"


def test_unknown_fields_are_kept(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    run = api.add_run(brand_new_field={"x": 1}, status="EVALUATING")
    got = make_client().agent_runs.get(run["id"])
    assert got.model_extra == {"brand_new_field": {"x": 1}}
    assert not got.status.is_terminal  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError, APIConnectionError),
        (httpx.RemoteProtocolError, APIConnectionError),
        (httpx.ReadError, APIConnectionError),
        (httpx.ReadTimeout, APITimeoutError),
        (httpx.ConnectTimeout, APITimeoutError),
        (httpx.PoolTimeout, APITimeoutError),
    ],
)
def test_transport_errors_are_wrapped(
    make_client: Callable[..., CodegenClient],
    api: FakeCodegenAPI,
    exc: type[httpx.HTTPError],
    cls: type,
) -> None:
    client = make_client(max_retries=0)
    api.drop(exc, after_processing=False)
    with pytest.raises(cls) as info:
        client.users.me()
    assert type(info.value) is cls
    assert exc.__name__ in str(info.value)
    assert "GET /v1/users/me" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.is_transient


async def test_async_errors(
    make_aclient: Callable[..., AsyncCodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_aclient(max_retries=0)
    api.fail(404, json_body={"message": "Agent run not found.", "status_code": 404})
    with pytest.raises(NotFoundError, match="Agent run not found"):
        await client.agent_runs.get(5)
    api.drop(httpx.ReadTimeout, after_processing=False)
    with pytest.raises(APITimeoutError):
        await client.agent_runs.get(5)
    api.fail(200, text="nope")
    with pytest.raises(ResponseValidationError):
        await client.agent_runs.get(5)


def test_oversized_response_body_is_refused_clearly() -> None:
    from codegen_graph._base_client import MAX_RESPONSE_BYTES

    # A valid run whose result is 17 MiB: well-formed, but over the limit.
    big = b'{"id": 1, "organization_id": 1, "result": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    just_under = b'{"id": 1, "organization_id": 1, "result": "' + b"y" * (10 * 1024 * 1024) + b'"}'
    assert len(big) > MAX_RESPONSE_BYTES > len(just_under)
    bodies = iter([big, just_under, b"<html>" + b"z" * (20 * 1024 * 1024)])

    def handler(_r: httpx.Request) -> httpx.Response:
        body = next(bodies)
        status = 502 if body.startswith(b"<html>") else 200
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    client = CodegenClient(
        "t", 1, transport=httpx.MockTransport(handler), rate_limits=False, max_retries=0
    )
    with pytest.raises(ResponseValidationError, match="over the client's limit") as info:
        client.agent_runs.get(1)
    assert str(info.value).startswith(f"The response body is {len(big):,} bytes")
    assert len(client.agent_runs.get(1).result or "") == 10 * 1024 * 1024  # 10 MiB is fine
    with pytest.raises(ServerError) as error:  # a huge error page: a short excerpt
        client.agent_runs.get(1)
    assert len(str(error.value)) < 400
