"""Configuration from arguments and environment; the token never leaks; token rotation."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from codegen_graph import (
    AsyncCodegenClient,
    AuthenticationError,
    CodegenClient,
    CodegenError,
    ConfigurationError,
)

from ._fake_api import FakeCodegenAPI

CANARY = "sk-CANARY-7f3e9b1c0d2a4e6f"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CODEGEN_API_TOKEN", "CODEGEN_TOKEN", "CODEGEN_ORG_ID", "CODEGEN_API_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


def test_missing_token_names_argument_and_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        CodegenClient(org_id=1)
    assert "token=" in str(info.value)
    assert "CODEGEN_API_TOKEN" in str(info.value)


def test_missing_org_names_argument_and_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncCodegenClient("t")
    assert "org_id=" in str(info.value)
    assert "CODEGEN_ORG_ID" in str(info.value)


@pytest.mark.parametrize("bad", ["abc", "0", "-4", "1.5"])
def test_bad_org_id(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("CODEGEN_ORG_ID", bad)
    with pytest.raises(ConfigurationError, match="CODEGEN_ORG_ID"):
        CodegenClient("t")


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_TOKEN", "from-env")
    monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    monkeypatch.setenv("CODEGEN_API_BASE_URL", "http://127.0.0.1:8765/")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1, "github_user_id": "1", "github_username": "u"})

    with CodegenClient(transport=httpx.MockTransport(handler)) as client:
        assert client.org_id == 42
        assert client.base_url == "http://127.0.0.1:8765"
        client.users.me()
    assert str(seen[0].url) == "http://127.0.0.1:8765/v1/users/me"
    assert seen[0].headers["authorization"] == "Bearer from-env"
    assert seen[0].headers["user-agent"].startswith("codegen-graph/")
    monkeypatch.setenv("CODEGEN_API_TOKEN", "preferred")
    assert CodegenClient()._token.value == "preferred"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000",
        "http://127.0.0.1",
        "http://127.9.9.9:1",
        "http://[::1]:80",
        "https://api.example.com",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    assert CodegenClient("t", 1, base_url=url).base_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://api.codegen.com",
        "http://10.0.0.5",
        "http://localhost.evil.com",
        "ftp://x",
        "api.codegen.com",
        "https://u:p@h.com",
        "https://h.com/?token=x",
    ],
)
def test_refused_base_urls(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"base_url|http"):
        CodegenClient("t", 1, base_url=url)


def test_tls_verification_only_off_explicitly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        CodegenClient("t", 1)
        assert not caplog.records
        CodegenClient("t", 1, insecure_skip_tls_verify=True)
    assert "TLS certificate verification is OFF" in caplog.text
    with pytest.raises(ConfigurationError):
        CodegenClient("t", 1, insecure_skip_tls_verify="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not both"):
        CodegenClient(
            "t",
            1,
            http_client=httpx.Client(),
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        )


def test_token_provider_reread_once_on_401(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    tokens = iter(["old-token", "new-token", "newer-token"])
    calls: list[str] = []

    def provider() -> str:
        calls.append(tok := next(tokens))
        return tok

    api.tokens = {"new-token"}
    client = make_client(token=provider)
    assert client.users.me().id == 1
    assert calls == ["old-token", "new-token"]
    auths = [r.headers["authorization"] for r in api.requests]
    assert auths == ["Bearer old-token", "Bearer new-token"]
    client.users.me()  # the fresh token is kept
    assert len(calls) == 2
    api.tokens = {"never"}
    with pytest.raises(AuthenticationError):
        client.users.me()
    assert len(calls) == 3  # re-read once, then the 401 is raised


def test_static_token_401_is_not_retried(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI
) -> None:
    client = make_client(token="wrong")
    with pytest.raises(AuthenticationError):
        client.users.me()
    assert len(api.requests) == 1


def test_bad_token_values() -> None:
    with pytest.raises(ConfigurationError):
        CodegenClient("  ", 1)
    client = CodegenClient(
        lambda: "", 1, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    with pytest.raises(ConfigurationError, match="non-empty"):
        client.users.me()

    def exploding() -> str:
        raise RuntimeError(f"vault down, last token was {CANARY}")

    client = CodegenClient(
        exploding, 1, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    with pytest.raises(ConfigurationError) as info:
        client.users.me()
    assert CANARY not in str(info.value)
    assert info.value.__cause__ is None


def test_canary_token_never_leaks(
    make_client: Callable[..., CodegenClient], api: FakeCodegenAPI, caplog: pytest.LogCaptureFixture
) -> None:
    api.tokens = {CANARY}
    texts: list[str] = []
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        for name in ("httpx", "httpcore", "codegen_graph"):
            caplog.set_level(logging.DEBUG, logger=name)
        client = make_client(token=CANARY, retry=None, max_retries=1)
        provider_client = make_client(token=lambda: CANARY)
        texts += [
            repr(client),
            str(client),
            repr(provider_client),
            repr(client._token),
            repr(client.rate_budgets),
            repr(client.circuit),
        ]
        client.agent_runs.create("x")
        # The server echoing the token back must not put it in an error.
        api.fail(400, json_body={"message": f"bad token {CANARY}", "status_code": 400})
        api.fail(
            502,
            text=f"<html>upstream said {CANARY}</html>",
            headers={"content-type": "text/html"},
            times=2,
        )
        api.drop(httpx.ReadTimeout, after_processing=False, times=2)
        api.fail(200, text=f"not json {CANARY}")
        api.fail(
            422, json_body={"detail": [{"loc": ["header", CANARY], "msg": CANARY, "type": "x"}]}
        )
        for _ in range(5):
            try:
                client.users.me()
            except CodegenError as exc:
                errors.append(exc)
        try:
            CodegenClient(CANARY, 1, base_url="http://evil.example")
        except CodegenError as exc:
            errors.append(exc)
        provider_client.users.me()
    assert len(errors) == 6
    for exc in errors:
        texts += [
            str(exc),
            repr(exc),
            repr(getattr(exc, "body", None)),
            str(exc.__cause__),
            str(exc.__context__),
        ]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any("HTTP Request" in t for t in texts)  # httpx did log
    for text in texts:
        assert CANARY not in text
