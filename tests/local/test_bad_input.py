"""Bad input gets the spec's answer (422 HTTPValidationError, 404, ...) and never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen_graph.clock import ManualClock
from codegen_graph.local import MAX_PROMPT_CHARS, LocalCodegen

ORG = "/v1/organizations/42"
ALPHA = "/v1/alpha/organizations/42"
JSON = {"content-type": "application/json"}
CHECKS = f"{ORG}/repos/check-suite-settings?repo_id=1"

CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", f"{ORG}/agent/run", {"json": {}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": ""}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": None}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": 12}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": "x" * (MAX_PROMPT_CHARS + 1)}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": "x", "metadata": [1]}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": "x", "repo_id": "abc"}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": "x", "agent_type": "gpt"}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": {"prompt": "x", "images": "nope"}}, 422),
    ("POST", f"{ORG}/agent/run", {"json": ["prompt"]}, 422),
    ("POST", f"{ORG}/agent/run", {"content": b"{not json", "headers": JSON}, 422),
    ("POST", f"{ORG}/agent/run", {"content": b"", "headers": JSON}, 422),
    ("POST", f"{ORG}/agent/run", {"content": b"\xff\xfe", "headers": JSON}, 422),
    ("POST", "/v1/organizations/abc/agent/run", {"json": {"prompt": "x"}}, 422),
    ("GET", f"{ORG}/agent/run/abc", {}, 422),
    ("GET", f"{ORG}/agent/run/1.5", {}, 422),
    ("GET", f"{ORG}/agent/run/99999999999999999999999", {}, 404),
    ("GET", f"{ORG}/agent/run/-1", {}, 404),
    ("GET", f"{ORG}/agent/run/123", {}, 404),
    ("GET", f"{ORG}/agent/runs", {"params": {"limit": 101}}, 422),
    ("GET", f"{ORG}/agent/runs", {"params": {"limit": 0}}, 422),
    ("GET", f"{ORG}/agent/runs", {"params": {"skip": -1}}, 422),
    ("GET", f"{ORG}/agent/runs", {"params": {"skip": "x"}}, 422),
    ("GET", f"{ORG}/agent/runs", {"params": {"skip": 10**30}}, 200),
    ("GET", f"{ORG}/agent/runs", {"params": {"user_id": 10**30}}, 200),
    ("GET", f"{ORG}/agent/runs", {"params": {"source_type": "NOPE"}}, 422),
    ("POST", f"{ORG}/agent/run/resume", {"json": {"prompt": "x"}}, 422),
    ("POST", f"{ORG}/agent/run/resume", {"json": {"agent_run_id": "a", "prompt": "x"}}, 422),
    ("POST", f"{ORG}/agent/run/resume", {"json": {"agent_run_id": 1, "prompt": ""}}, 422),
    ("POST", f"{ORG}/agent/run/resume", {"json": {"agent_run_id": 10**30, "prompt": "x"}}, 404),
    ("POST", f"{ORG}/agent/run/ban", {"json": {}}, 422),
    ("GET", f"{ALPHA}/agent/run/1/logs", {"params": {"limit": 500}}, 422),
    ("GET", f"{ALPHA}/agent/run/1/logs", {"params": {"reverse": "maybe"}}, 422),
    ("GET", f"{ALPHA}/agent/run/x/logs", {}, 422),
    ("GET", f"{ORG}/users/abc", {}, 422),
    ("GET", f"{ORG}/users/10000000000000000000000", {}, 404),
    ("GET", f"{ORG}/repos/check-suite-settings", {}, 422),
    ("GET", f"{ORG}/repos/check-suite-settings", {"params": {"repo_id": "x"}}, 422),
    ("GET", f"{ORG}/repos/check-suite-settings", {"params": {"repo_id": 10**30}}, 422),
    ("PUT", f"{ORG}/repos/check-suite-settings", {"params": {"repo_id": 1}}, 422),
    ("PUT", f"{ORG}/repos/check-suite-settings", {"params": {"repo_id": 1}, "json": []}, 422),
    ("PUT", CHECKS, {"json": {"check_retry_count": -1}}, 422),
    ("PUT", CHECKS, {"json": {"ignored_checks": "lint"}}, 422),
    ("PUT", CHECKS, {"json": {"check_retry_counts": {"lint": "x"}}}, 422),
    ("PUT", CHECKS, {"json": {"custom_prompts": {"lint": 1}}}, 422),
    ("PUT", CHECKS, {"json": {"nope": 1}}, 200),
    ("PATCH", f"{ORG}/prs/1", {"json": {}}, 422),
    ("PATCH", f"{ORG}/prs/1", {"json": {"state": "merged"}}, 422),
    ("PATCH", f"{ORG}/prs/x", {"json": {"state": "open"}}, 422),
    ("PATCH", f"{ORG}/prs/10000000000000000000000", {"json": {"state": "open"}}, 200),
    ("PATCH", f"{ORG}/repos/x/prs/1", {"json": {"state": "open"}}, 422),
    ("POST", f"{ORG}/setup-commands/generate", {"json": {"repo_id": "x"}}, 422),
    ("POST", f"{ORG}/setup-commands/generate", {"json": {"repo_id": 10**30}}, 404),
    ("POST", f"{ORG}/setup-commands/generate", {"content": b"{", "headers": JSON}, 422),
    ("POST", f"{ORG}/sandbox/x/analyze-logs", {}, 422),
    ("POST", f"{ORG}/sandbox/-1/analyze-logs", {}, 404),
    ("POST", f"{ORG}/sandbox/1/analyze-logs", {}, 400),
    ("GET", "/v1/oauth/tokens/status", {"params": {"org_id": "x"}}, 422),
    ("POST", "/v1/oauth/tokens/revoke", {"params": {"org_id": 42}}, 422),
    ("POST", "/v1/oauth/tokens/revoke", {"params": {"provider": "github"}}, 422),
    ("POST", "/v1/slack-connect/generate-token", {"json": {}}, 422),
    ("POST", "/v1/slack-connect/generate-token", {"json": {"org_id": "x"}}, 422),
]


@pytest.mark.parametrize(("method", "path", "kw", "status"), CASES)
def test_bad_input_table(
    http: httpx.Client, method: str, path: str, kw: dict[str, Any], status: int
) -> None:
    r = http.request(method, path, **kw)
    assert r.status_code == status, r.text
    if status == 422:
        detail = r.json()["detail"]
        assert detail
        assert all({"loc", "msg", "type"} <= set(d) for d in detail)


def _ints() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70),
        st.text(max_size=6),
        st.floats(allow_nan=True),
        st.none(),
        st.booleans(),
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _body(props: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    fixed = st.fixed_dictionaries({}, optional=props)
    return st.one_of(fixed, _json)


_ROUTE = st.sampled_from(
    ["create", "get", "list", "resume", "logs", "ban", "settings", "edit", "setup", "analyze"]
)


@st.composite
def _request(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    route = draw(_ROUTE)
    segment = st.text(alphabet="abcxyz0123456789-_~", min_size=1, max_size=6)
    run_id = draw(st.one_of(st.just(10000), st.integers(-(2**70), 2**70), segment))
    params = {
        k: v
        for k, v in draw(
            st.dictionaries(
                st.sampled_from(["skip", "limit", "reverse", "user_id", "source_type", "repo_id"]),
                _ints(),
                max_size=4,
            )
        ).items()
        if v is not None
    }
    prompt = st.one_of(st.text(max_size=20), _json)
    if route == "create":
        body = _body(
            {
                "prompt": prompt,
                "metadata": _json,
                "repo_id": _ints(),
                "images": _json,
                "agent_type": st.sampled_from(["codegen", "claude_code", "x"]),
                "model": _json,
            }
        )
        return "POST", f"{ORG}/agent/run", {"json": draw(body)}
    if route in ("resume", "ban"):
        body = _body({"agent_run_id": st.one_of(st.just(10000), _ints()), "prompt": prompt})
        path = f"{ORG}/agent/run/{route}"
        return "POST", path, {"json": draw(body)}
    if route == "settings":
        body = _body(
            {"check_retry_count": _ints(), "ignored_checks": _json, "custom_prompts": _json}
        )
        return "PUT", f"{ORG}/repos/check-suite-settings", {"params": params, "json": draw(body)}
    if route == "edit":
        state = st.sampled_from(["open", "closed", "draft", "ready_for_review", "merged"])
        return "PATCH", f"{ORG}/prs/{run_id}", {"json": draw(_body({"state": state}))}
    if route == "setup":
        body = _body({"repo_id": _ints(), "prompt": prompt, "trigger_source": _json})
        return "POST", f"{ORG}/setup-commands/generate", {"json": draw(body)}
    if route == "analyze":
        return "POST", f"{ORG}/sandbox/{run_id}/analyze-logs", {}
    if route == "get":
        return "GET", f"{ORG}/agent/run/{run_id}", {}
    if route == "list":
        return "GET", f"{ORG}/agent/runs", {"params": params}
    return "GET", f"{ALPHA}/agent/run/{run_id}/logs", {"params": params}


@pytest.fixture(scope="module")
def fuzz_backend() -> Any:
    b = LocalCodegen("tok-test", 42, clock=ManualClock(), rate_limits=False)
    with b, b.httpx_client() as http:
        http.post(f"{ORG}/agent/run", json={"prompt": "seed run"})
        yield b, http


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(req=_request())
def test_fuzz_agent_endpoints_never_5xx(
    fuzz_backend: Any, req: tuple[str, str, dict[str, Any]], contract: Any
) -> None:
    _, http = fuzz_backend
    method, path, kw = req
    try:
        r = http.request(method, path, **kw)
    except (ValueError, TypeError):  # httpx refuses to encode the value (e.g. NaN in JSON)
        return
    assert r.status_code < 500, (method, path, kw, r.text)
    contract.check(r)
