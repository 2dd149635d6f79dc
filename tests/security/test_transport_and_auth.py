"""Transport security: no clear-text token to remote hosts, TLS checks only off by an
explicit and logged opt-in, and a local backend that listens on loopback and wants a token."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient, ConfigurationError
from codegen_graph._async import api as _async_api
from codegen_graph._sync import api as _sync_api
from codegen_graph.cli._app import serve as serve_command
from codegen_graph.local import LocalServer
from codegen_graph.local import serve as serve_function

TOKEN = "cg-security-token-0123456789"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.codegen.com",
        "http://10.0.0.5:8000",
        "http://192.168.1.10",
        "http://[2001:db8::1]:8080",
        "http://127.0.0.1.evil.example",
        "HTTP://example.org",
    ],
)
@pytest.mark.parametrize("cls", [CodegenClient, AsyncCodegenClient])
def test_plain_http_to_a_remote_host_is_refused(url: str, cls: type) -> None:
    with pytest.raises(ConfigurationError, match=r"Refusing plain http://|http\(s\) URL"):
        cls(TOKEN, 1, base_url=url)


def test_plain_http_from_the_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_API_BASE_URL", "http://api.codegen.com")
    with pytest.raises(ConfigurationError, match="clear text"):
        CodegenClient(TOKEN, 1)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    CodegenClient(TOKEN, 1, base_url=url).close()


@pytest.mark.parametrize("cls", [CodegenClient, AsyncCodegenClient])
def test_tls_verification_is_on_unless_explicitly_switched_off(
    cls: type, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="codegen_graph"):
        default = cls(TOKEN, 1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # httpx keeps verification in the transport's SSL context.
    ctx = default._http._transport._pool._ssl_context
    assert ctx.verify_mode.name == "CERT_REQUIRED" and ctx.check_hostname
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="codegen_graph"):
        insecure = cls(TOKEN, 1, insecure_skip_tls_verify=True)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.name == "codegen_graph.client"
    assert "TLS certificate verification is OFF (insecure_skip_tls_verify=True)" in (
        record.getMessage()
    )
    assert insecure._http._transport._pool._ssl_context.verify_mode.name == "CERT_NONE"
    for truthy in ("yes", 1, "true"):
        with pytest.raises(ConfigurationError, match="must be True or False"):
            cls(TOKEN, 1, insecure_skip_tls_verify=truthy)


def test_no_other_way_to_switch_tls_off() -> None:
    # The only knob is the explicit flag: no `verify=` passthrough, no env variable read.
    params = set(inspect.signature(CodegenClient).parameters)
    assert "verify" not in params and "insecure_skip_tls_verify" in params
    # httpx's verify= is set in exactly one place (the requester, written once; its sync
    # twin is generated from it), from the flag.
    for module in (_async_api, _sync_api):
        source = Path(inspect.getfile(module)).read_text()
        assert re.findall(r"\bverify=([^,)\n]*)", source) == ["not insecure_skip_tls_verify"]


def test_serve_binds_loopback_by_default() -> None:
    assert inspect.signature(serve_function).parameters["host"].default == "127.0.0.1"
    option = inspect.signature(serve_command).parameters["host"].default
    assert option.default == "127.0.0.1"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(token=TOKEN, time_scale=1000.0) as srv:
        yield srv


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.append(address)
    return found


def test_local_server_listens_on_loopback_only(server: LocalServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    addresses = _listening(server.port)
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read the listening sockets from")
    assert addresses == ["0100007F"]  # 127.0.0.1, and not 0.0.0.0 (00000000) or ::


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": ""}, "Not authenticated"),
        ({"Authorization": f"Basic {TOKEN}"}, "Not authenticated"),
        ({"Authorization": "Bearer"}, "Not authenticated"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "Invalid or expired API token."),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "Invalid or expired API token."),
        ({"Authorization": "Bearer cg-local-someone-else"}, "Invalid or expired API token."),
    ],
)
def test_local_server_rejects_requests_without_a_valid_token(
    server: LocalServer, headers: dict[str, str], message: str
) -> None:
    paths = [
        ("GET", f"/v1/organizations/{server.org_id}/agent/runs"),
        ("POST", f"/v1/organizations/{server.org_id}/agent/run"),
        ("GET", "/v1/users/me"),
        ("GET", "/v1/organizations"),
    ]
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as http:
        for method, path in paths:
            r = http.request(method, path, json={"prompt": "x"} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.text)
            assert message in r.json()["message"]
    # ...and nothing was created by the rejected posts.
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as http:
        r = http.get(f"/v1/organizations/{server.org_id}/agent/runs")
        assert r.status_code == 200
        assert r.json()["total"] == 0
