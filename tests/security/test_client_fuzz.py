"""Property-based: whatever a caller passes (prompt text with lone surrogates and NUL,
metadata values, tokens, base URLs), only the documented exceptions escape the client
(``CodegenError``; ``ValueError``/``TypeError`` for wrong arguments), a malformed token sends
nothing, and no token shows in any exception text, repr or log record (root logger at
DEBUG, httpx and httpcore included). Requests go over real HTTP to the local backend."""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen_graph import AsyncCodegenClient, CodegenClient, CodegenError
from codegen_graph.local import LocalServer

#: The token the server accepts; every fuzzed token embeds a fresh secret of this shape.
SERVER_TOKEN = "cg-fuzz-" + secrets.token_hex(16)
ALLOWED = (CodegenError, ValueError, TypeError)
BAD_CHARS = ["\n", "\r\n", "\x00", "\t", " ", "\x7f", "é", "\u201c", "\u2028", "\ud800", "🔑"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r} {record.exc_info[1]}"
        self.texts.append(f"{record.name}: {text}")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(token=SERVER_TOKEN, time_scale=1000.0) as srv:
        yield srv


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", "httpx", "httpcore")}
    root.addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _secrets_of(token: str) -> list[str]:
    """The parts of a token that must never be shown (its distinctive 8+ character runs)."""
    parts = [token, token.strip()]
    parts += [p for p in token.replace("\n", " ").split() if len(p) >= 8]
    return [p for p in parts if len(p.strip()) >= 8]


@st.composite
def tokens(draw: st.DrawFn) -> tuple[str, bool]:
    """A token and whether it is well formed (it then is the server's, maybe padded)."""
    if draw(st.booleans()):
        pad = draw(st.sampled_from(["", " ", "\n", "\t ", "\r\n"]))
        return pad + SERVER_TOKEN + pad, True
    secret = "cg-" + secrets.token_hex(12)
    at = draw(st.integers(1, len(secret) - 1))
    bad = draw(
        st.sampled_from(BAD_CHARS)
        | st.characters(max_codepoint=0x1F)
        | st.text(min_size=1, max_size=3).filter(
            lambda t: any(not "\x21" <= c <= "\x7e" for c in t.strip()) and t.strip() == t
        )
    )
    return secret[:at] + bad + secret[at:], False


_any_char = st.characters(exclude_categories=())  # surrogates included
_texts = st.one_of(
    st.text(_any_char, max_size=40),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(max_size=10),
        st.sampled_from(BAD_CHARS),
        st.text(max_size=10),
    ),
)
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included
    _texts,
    st.binary(max_size=4),
    st.builds(object),
    st.just(datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)),
    st.frozensets(st.integers(), max_size=2),
)
_dict_values = st.recursive(
    _leaf,
    lambda ch: st.lists(ch, max_size=3) | st.dictionaries(_texts, ch, max_size=3),
    max_leaves=6,
)
_metadata = st.one_of(
    st.dictionaries(st.sampled_from(["k", "owner"]), _leaf, min_size=1, max_size=2),
    st.dictionaries(_texts, _leaf, min_size=1, max_size=2),
    st.dictionaries(_texts | st.integers(), _dict_values, max_size=3),
)
_prompts = st.one_of(st.sampled_from(["Add a /health endpoint", "Fix the bug\n\tplease"]), _texts)


def _check_exception(exc: BaseException, secrets_: list[str]) -> None:
    # Our own argument checks raise plain ValueError/TypeError; a subclass (UnicodeEncodeError,
    # pydantic's PydanticSerializationError) is a library error that escaped raw.
    documented = isinstance(exc, CodegenError) or type(exc) in (ValueError, TypeError)
    assert documented, f"{type(exc).__name__} escaped: {exc!r}"
    chain: BaseException | None = exc
    while chain is not None:
        for text in (str(chain), repr(chain)):
            for secret in secrets_:
                assert secret not in text, f"token in {type(chain).__name__}: {text!r}"
        chain = chain.__cause__ or chain.__context__


def _check_logs(records: Records, secrets_: list[str]) -> None:
    for text in records.texts:
        for secret in secrets_:
            assert secret not in text, f"token in a log record: {text!r}"


def _exercise(
    server: LocalServer, records: Records, token: str, prompt: str, metadata: Any
) -> bool:
    """Create, read and resume a run with these inputs; check what escapes and what is
    logged. Returns whether the calls went through."""
    secrets_ = _secrets_of(token)
    records.texts.clear()
    client: CodegenClient | None = None
    ok = False
    try:
        client = CodegenClient(token, server.org_id, base_url=server.base_url, max_retries=0)
        for secret in secrets_:
            assert secret not in repr(client)
        run = client.agent_runs.create(prompt, metadata=metadata)
        assert client.agent_runs.get(run.id).id == run.id
        client.agent_runs.resume(run.id, prompt)
        ok = True
    except BaseException as exc:
        _check_exception(exc, secrets_)
    finally:
        if client is not None:
            client.close()
    _check_logs(records, secrets_)
    return ok


_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_settings
@given(token=tokens())
def test_fuzzed_tokens(server: LocalServer, records: Records, token: tuple[str, bool]) -> None:
    raw, well_formed = token
    before = server.stats()["requests"]
    ok = _exercise(server, records, raw, "Add a /health endpoint", {"k": 1})
    assert ok == well_formed, "a malformed token was accepted, or a good one refused"
    if not well_formed:
        assert server.stats()["requests"] == before, "a request went out with a malformed token"


@_settings
@given(prompt=_prompts, metadata=_metadata)
def test_fuzzed_prompts_and_metadata(
    server: LocalServer, records: Records, prompt: str, metadata: Any
) -> None:
    _exercise(server, records, SERVER_TOKEN, prompt, metadata)


_hosts = st.sampled_from(["localhost", "127.0.0.1", "[::1]", "api.codegen.com", "[::1", "::1", ""])
_ports = st.one_of(
    st.just(""),
    st.integers(-5, 70_000).map(lambda p: f":{p}"),
    st.sampled_from([":abc", ":", ": 80", ":+80", ":8e3", ":0x50"]),
)
_urls = st.one_of(
    st.builds(
        lambda scheme, host, port, tail: f"{scheme}{host}{port}{tail}",
        st.sampled_from(["http://", "https://", "ftp://", "", "http:/", "HTTP://"]),
        _hosts,
        _ports,
        st.sampled_from(["", "/", "/api", "/a b", "/\n", "?q=1", "#f", "/\x00", "/é"]),
    ),
    st.text(_any_char, max_size=30),
)


@settings(max_examples=120, deadline=None)
@given(url=_urls)
def test_fuzzed_base_urls_fail_at_construction_or_work(url: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": 1, "organization_id": 1, "status": "RUNNING"})

    try:
        client = CodegenClient(
            SERVER_TOKEN, 1, base_url=url, transport=httpx.MockTransport(handler)
        )
    except BaseException as exc:
        _check_exception(exc, [SERVER_TOKEN])
        return
    with client:  # accepted at construction: then every call works, never InvalidURL
        assert client.agent_runs.get(1).id == 1
    assert len(sent) == 1 and sent[0].url.host


@pytest.mark.parametrize("metadata", [[("k", 1)], "k=1", 7, {("k",): 1}])
def test_metadata_that_is_not_a_mapping_of_str(metadata: Any) -> None:
    client = CodegenClient(
        SERVER_TOKEN, 1, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    with client, pytest.raises(CodegenError, match="metadata"):
        client.agent_runs.create("ok", metadata=metadata)


async def test_the_async_client_checks_the_same_inputs() -> None:
    bad = "cg-" + secrets.token_hex(12) + "\n"
    for token, prompt, metadata in [
        ("cg-abc\r\nX-Evil: 1", "ok", None),
        (SERVER_TOKEN, "a\ud800b", None),
        (SERVER_TOKEN, "ok", {"x": object()}),
        (SERVER_TOKEN, "ok", {"x": float("nan")}),
        (bad.strip() + "é", "ok", None),
    ]:
        with pytest.raises(ALLOWED) as caught:
            async with AsyncCodegenClient(
                token, 1, transport=httpx.MockTransport(lambda r: httpx.Response(500))
            ) as client:
                await client.agent_runs.create(prompt, metadata=metadata)
        assert isinstance(caught.value, CodegenError)
        _check_exception(caught.value, _secrets_of(token) if token != SERVER_TOKEN else [])
