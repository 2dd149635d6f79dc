"""Redactor: known values and secret shapes never survive, in text or in containers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from codegen_graph import ConfigurationError
from codegen_graph.observability import REDACTED, Redactor

_secret = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=4, max_size=40
).filter(lambda s: s not in REDACTED)
_text = st.text(max_size=60)


@settings(max_examples=200, deadline=None)
@given(secret=_secret, before=_text, after=_text, repeat=st.integers(1, 3))
def test_planted_secret_never_survives_in_text(
    secret: str, before: str, after: str, repeat: int
) -> None:
    text = before + (secret + after) * repeat
    assert secret not in Redactor([secret]).redact_text(text)


@settings(max_examples=100, deadline=None)
@given(secret=_secret, key=_text, filler=_text)
def test_planted_secret_never_survives_in_nested_containers(
    secret: str, key: str, filler: str
) -> None:
    data = {
        key: [filler, {"deep": (filler + secret, 1)}],
        secret: "as a key",
        "set": {secret + filler},
        "bytes": (secret + filler).encode(),
    }
    out = Redactor([secret]).redact(data)
    assert secret not in repr(out)
    assert secret.encode() not in out["bytes"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefghij0123456789", "Authorization: Bearer R"),
        ("key sk-proj-abcdefghijklmnop0123456789", "key R"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789 pushed", "R pushed"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijkl", "R"),
        ("id AKIAABCDEFGHIJKLMNOP.", "id R."),
        ("export CODEGEN_API_TOKEN=cg-1234567890abcdef", "export CODEGEN_API_TOKEN=R"),
        ('{"api_key": "zzz-123-yyy"}', '{"api_key": "R"}'),
        ("password=hunter22 ok", "password=R ok"),
        ("lsv2_pt_0123456789abcdef0123456789abcdef_x", "R"),
        ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4", "jwt R"),
    ],
)
def test_default_patterns(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected.replace("R", REDACTED)


def test_ordinary_text_is_left_alone() -> None:
    text = "Add a /health endpoint; the token count is 42 and the key idea is caching."
    assert Redactor().redact_text(text) == text


def test_sensitive_keys_are_replaced_whole() -> None:
    r = Redactor()
    out = r.redact({"Authorization": "whatever", "token": 12345, "total_tokens": 7, "x": ""})
    assert out == {"Authorization": REDACTED, "token": REDACTED, "total_tokens": 7, "x": ""}


def test_pydantic_models_are_dumped_and_redacted() -> None:
    class Body(BaseModel):
        prompt: str
        n: int

    out = Redactor(["topsecret"]).redact({"body": Body(prompt="use topsecret", n=1)})
    assert out == {"body": {"prompt": f"use {REDACTED}", "n": 1}}


def test_input_is_not_modified_and_cycles_do_not_loop() -> None:
    data: dict[str, object] = {"a": ["topsecret"]}
    data["self"] = data
    out = Redactor(["topsecret"]).redact(data)
    assert data["a"] == ["topsecret"]
    assert out["a"] == [REDACTED]
    assert out["self"] == "[CYCLE]"


def test_repr_never_shows_secrets() -> None:
    r = Redactor(["topsecret-value"])
    assert "topsecret" not in repr(r)
    assert "1 known" in repr(r)


def test_bad_configuration_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="at least 4"):
        Redactor(["abc"])
    with pytest.raises(ConfigurationError, match="replacement"):
        Redactor(["DACT"])
    with pytest.raises(ConfigurationError, match="invalid redaction pattern"):
        Redactor(patterns=["("])


def test_from_env_and_with_secrets() -> None:
    r = Redactor.from_env({"CODEGEN_API_TOKEN": "tok-from-env", "GITHUB_TOKEN": "ab"})
    assert r("x tok-from-env y") == f"x {REDACTED} y"
    r2 = r.with_secrets("another-one")
    assert r2("another-one tok-from-env") == f"{REDACTED} {REDACTED}"
    assert r("another-one") == "another-one"


def test_is_callable_as_langsmith_anonymizer() -> None:
    r = Redactor(["topsecret"])
    assert r({"inputs": {"q": "topsecret"}}) == {"inputs": {"q": REDACTED}}
