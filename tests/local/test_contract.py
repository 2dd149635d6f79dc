"""Every response of the local backend, success and error, validates against the spec."""

from __future__ import annotations

import httpx

from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, RateLimit, RateLimits


def test_every_endpoint_success_bodies(
    http: httpx.Client, org: str, alpha: str, clock: ManualClock, contract: object
) -> None:
    run = http.post(f"{org}/agent/run", json={"prompt": "Add a /health endpoint"}).json()
    clock.advance(3600)
    assert http.get(f"{org}/agent/run/{run['id']}").json()["status"] == "COMPLETE"
    assert http.get(f"{org}/agent/runs").status_code == 200
    assert (
        http.get(f"{org}/agent/runs", params={"source_type": "API", "limit": 1}).status_code == 200
    )
    assert http.get(f"{alpha}/agent/run/{run['id']}/logs").status_code == 200
    resumed = http.post(
        f"{org}/agent/run/resume", json={"agent_run_id": run["id"], "prompt": "more"}
    )
    assert resumed.json()["status"] == "ACTIVE"
    for action in ("ban", "unban", "remove-from-pr"):
        assert (
            http.post(f"{org}/agent/run/{action}", json={"agent_run_id": run["id"]}).status_code
            == 200
        )
    assert http.get("/v1/organizations").json()["items"][0]["id"] == 42
    me = http.get("/v1/users/me").json()
    assert http.get(f"{org}/users").json()["total"] == 1
    assert http.get(f"{org}/users/{me['id']}").json()["id"] == me["id"]
    assert http.get(f"{org}/repos").json()["total"] == 2
    checked = {(m, s) for m, _, s in contract.checked}  # type: ignore[attr-defined]
    assert ("GET", 200) in checked
    assert ("POST", 200) in checked


def test_error_bodies(http: httpx.Client, org: str, alpha: str, backend: LocalCodegen) -> None:
    assert http.get(f"{org}/agent/run/1", headers={"Authorization": ""}).status_code == 401
    assert (
        http.get(f"{org}/agent/run/1", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert http.get(f"{org}/agent/run/1", headers={"Authorization": "Basic abc"}).status_code == 401
    assert http.get("/v1/organizations/7/agent/run/1").status_code == 403
    assert http.get("/v1/organizations/7/repos").status_code == 403
    assert http.get(f"{org}/agent/run/999999").status_code == 404
    assert http.get(f"{alpha}/agent/run/999999/logs").status_code == 404
    assert (
        http.post(f"{org}/agent/run/resume", json={"agent_run_id": 5, "prompt": "x"}).status_code
        == 404
    )
    assert http.post(f"{org}/agent/run/ban", json={"agent_run_id": 5}).status_code == 404
    assert http.get(f"{org}/users/123456").status_code == 404
    assert http.post(f"{org}/agent/run", json={"prompt": "x", "repo_id": 999}).status_code == 404
    assert http.post(f"{org}/agent/run", json={}).status_code == 422
    assert http.get(f"{org}/agent/runs", params={"limit": 101}).status_code == 422


def test_other_orgs_token_is_forbidden(backend: LocalCodegen, contract: object) -> None:
    other = backend.add_token(org_id=7)
    with backend.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
        r = http.get(f"/v1/organizations/{backend.org_id}/agent/runs")
        contract.check(r)  # type: ignore[attr-defined]
        assert r.status_code == 403
        assert r.json()["message"] == "You do not have access to this organization."
        assert http.get("/v1/organizations/7/agent/runs").json()["total"] == 0


def test_rate_limit_and_quota_bodies(contract: object) -> None:
    limits = RateLimits(create=RateLimit(2, 60), standard=RateLimit(1, 30), logs=RateLimit(1, 60))
    with LocalCodegen("t", 1, clock=ManualClock(), rate_limits=limits, quota=3) as b:
        hook = {"response": [lambda r: (r.read(), contract.check(r))]}  # type: ignore[attr-defined]
        with b.httpx_client(event_hooks=hook) as http:
            codes = [
                http.post("/v1/organizations/1/agent/run", json={"prompt": "p"}).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]
            b.clock.advance(61)  # type: ignore[attr-defined]
            assert (
                http.post("/v1/organizations/1/agent/run", json={"prompt": "p"}).status_code == 200
            )
            r = http.post("/v1/organizations/1/agent/run", json={"prompt": "p"})
            assert r.status_code == 402
            assert r.json()["message"].startswith("Alloted agent runs")
            assert [http.get("/v1/organizations").status_code for _ in range(2)] == [200, 429]
            assert http.get("/v1/alpha/organizations/1/agent/run/10000/logs").status_code == 200
            assert http.get("/v1/alpha/organizations/1/agent/run/10000/logs").status_code == 429


def test_contract_checker_rejects_a_wrong_body(contract: object) -> None:
    """Guard against a checker that cannot fail."""
    import pytest

    url = "http://localhost/v1/organizations/1/agent/run/2"
    bad = httpx.Response(200, json={"id": "x"}, request=httpx.Request("GET", url))
    with pytest.raises(AssertionError):
        contract.check(bad)  # type: ignore[attr-defined]
    undeclared = httpx.Response(409, json={"message": "m", "status_code": 409}, request=bad.request)
    with pytest.raises(AssertionError):
        contract.check(undeclared)  # type: ignore[attr-defined]


def test_the_other_operations_success_and_error_bodies(
    http: httpx.Client, org: str, backend: LocalCodegen, contract: object
) -> None:
    """The operations beyond agent runs, users and repos: bodies and statuses per the spec."""
    run = http.post(f"{org}/agent/run", json={"prompt": "Add a /health endpoint"}).json()
    assert http.patch(f"{org}/prs/1", json={"state": "closed"}).json() == {
        "success": False,
        "url": None,
        "number": None,
        "title": None,
        "state": None,
        "error": "Pull request 1 not found.",
    }  # the PR does not exist yet: it opens when the run completes
    backend.clock.advance(3600)  # type: ignore[attr-defined]
    pr = http.get(f"{org}/agent/run/{run['id']}").json()["github_pull_requests"][0]
    edited = http.patch(f"{org}/repos/1/prs/{pr['id']}", json={"state": "draft"}).json()
    assert edited == {**edited, "success": True, "number": pr["id"], "state": "draft"}
    assert not http.patch(f"{org}/repos/2/prs/{pr['id']}", json={"state": "open"}).json()["success"]
    assert http.patch(f"{org}/prs/{pr['id']}", json={"state": "merged"}).status_code == 422
    settings = http.get(f"{org}/repos/check-suite-settings", params={"repo_id": 2}).json()
    assert settings["check_retry_count"] == 3 and settings["available_check_suite_names"]
    put = http.put(
        f"{org}/repos/check-suite-settings", params={"repo_id": 2}, json={"check_retry_count": 11}
    )
    assert put.status_code == 422
    assert http.get(f"{org}/repos/check-suite-settings", params={"repo_id": 3}).status_code == 422
    assert http.get(f"{org}/repos/check-suite-settings").status_code == 422  # repo_id required
    integrations = http.get(f"{org}/integrations").json()
    assert integrations["organization_id"] == 42 and integrations["total_active_integrations"] == 1
    assert http.post(f"{org}/setup-commands/generate", json={"repo_id": 9}).status_code == 404
    assert http.post(f"{org}/setup-commands/generate", json={}).status_code == 422
    assert http.post(f"{org}/sandbox/9/analyze-logs").status_code == 404
    assert http.post(f"{org}/sandbox/2/analyze-logs").status_code == 400  # no setup logs yet
    setup = http.post(f"{org}/setup-commands/generate", json={"repo_id": 2}).json()
    assert setup["status"] == "PENDING" and setup["url"].endswith(f"/{setup['agent_run_id']}")
    backend.clock.advance(3600)  # type: ignore[attr-defined]
    analysis = http.post(f"{org}/sandbox/2/analyze-logs").json()
    assert analysis["status"] == "PENDING" and "sandbox 2" in analysis["message"]
    assert http.get(f"{org}/cli/rules").json()["organization_rules"]
    providers = http.get("/v1/mcp-providers").json()
    assert providers and all(p["is_mcp"] for p in providers)
    assert http.get("/v1/oauth/tokens/status", params={"org_id": 42}).json() == []
    assert http.get("/v1/oauth/tokens/status", params={"org_id": 7}).status_code == 403
    assert http.get("/v1/oauth/tokens/status").status_code == 422
    revoke = http.post("/v1/oauth/tokens/revoke", params={"provider": "github", "org_id": 42})
    assert revoke.json()["revoked_tokens"] == 0
    token = http.post("/v1/slack-connect/generate-token", json={"org_id": 42}).json()
    assert token["expires_in_minutes"] == 10 and token["token"] not in token["message"]
    assert http.post("/v1/slack-connect/generate-token", json={"org_id": 7}).status_code == 403
    checked = {(m, t) for m, t, _ in contract.checked}  # type: ignore[attr-defined]
    assert len(checked) == 2 + 12  # create, get and the twelve operations, each on the spec
