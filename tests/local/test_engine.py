"""Run lifecycle on a ManualClock: statuses, logs, results, PRs, resume, ban, listing."""

from __future__ import annotations

import httpx

from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, Outcome, RunContext, ScriptedBehavior, Step


def _create(http: httpx.Client, org: str, prompt: str, **extra: object) -> dict[str, object]:
    r = http.post(f"{org}/agent/run", json={"prompt": prompt, **extra})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_lifecycle_pending_active_complete(
    http: httpx.Client, org: str, alpha: str, clock: ManualClock
) -> None:
    run = _create(http, org, "Add a /health endpoint", metadata={"k": [1, {"x": None}]})
    assert run["status"] == "PENDING"
    assert run["source_type"] == "API"
    assert run["metadata"] == {"k": [1, {"x": None}]}
    assert run["web_url"] == f"http://localhost/agent/trace/{run['id']}"
    seen = []
    for _ in range(200):
        body = http.get(f"{org}/agent/run/{run['id']}").json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] == "COMPLETE":
            break
        clock.advance(1)
    assert seen == ["PENDING", "ACTIVE", "COMPLETE"]
    assert "pull request" in body["result"]
    assert body["summary"]
    (pr,) = body["github_pull_requests"]
    assert pr["head_branch_name"].startswith("codegen-bot/add-health-endpoint-")
    assert pr["url"]
    assert pr["created_at"]
    assert pr["title"] == "Add a /health endpoint"
    logs = http.get(f"{alpha}/agent/run/{run['id']}/logs").json()
    types = [entry["message_type"] for entry in logs["logs"]]
    assert types[0] == "PLAN_EVALUATION"
    assert types[-1] == "FINAL_ANSWER"
    assert "ACTION" in types
    action = next(e for e in logs["logs"] if e["message_type"] == "ACTION")
    assert action["tool_name"]
    assert action["tool_input"] is not None
    assert action["tool_output"]
    stamps = [e["created_at"] for e in logs["logs"]]
    assert stamps == sorted(stamps)


def test_logs_appear_over_time_and_paginate(
    http: httpx.Client, org: str, alpha: str, clock: ManualClock
) -> None:
    run = _create(http, org, "Refactor the parser")
    url = f"{alpha}/agent/run/{run['id']}/logs"
    assert http.get(url).json()["total_logs"] == 0
    counts = []
    for _ in range(12):
        clock.advance(8)
        counts.append(http.get(url).json()["total_logs"])
    assert counts == sorted(counts)
    assert counts[0] < counts[-1] == 5
    page = http.get(url, params={"skip": 2, "limit": 2}).json()
    assert (page["page"], page["size"], page["pages"], page["total_logs"]) == (2, 2, 3, 5)
    rev = http.get(url, params={"reverse": True}).json()["logs"]
    fwd = http.get(url).json()["logs"]
    assert rev == fwd[::-1]


def test_testing_and_docs_runs_by_role(http: httpx.Client, org: str, clock: ManualClock) -> None:
    """The role comes from the run's metadata; the words of the prompt never pick it."""
    task = "Add a binary search helper with tests and docs"
    meta = {"codegen_graph_task": task}
    t = _create(
        http,
        org,
        f"You are the testing agent.\n\n{task}",
        metadata={**meta, "codegen_graph_role": "tests"},
    )
    d = _create(
        http,
        org,
        f"You are the documentation agent.\n\n{task}",
        metadata={**meta, "codegen_graph_role": "docs"},
    )
    plain = _create(http, org, "Run the unit tests and write docs for the README")
    clock.advance(3600)
    tested = http.get(f"{org}/agent/run/{t['id']}").json()
    assert tested["result"].startswith("Test report:")
    assert "passed" in tested["result"]
    assert tested["github_pull_requests"] == []
    docs = http.get(f"{org}/agent/run/{d['id']}").json()
    assert docs["result"].startswith("Wrote docs/add-binary-search-helper.md")
    (pr,) = docs["github_pull_requests"]
    assert pr["title"] == f"Docs: {task}"
    assert "agent" not in pr["head_branch_name"]
    coded = http.get(f"{org}/agent/run/{plain['id']}").json()  # no role: a coding run
    (pr,) = coded["github_pull_requests"]
    assert pr["title"] == "Run the unit tests and write docs for the README"


def test_scripted_failures_are_listed_and_deterministic() -> None:
    behavior = ScriptedBehavior(test_failure_rate=1.0, seed=3)
    ctx = RunContext(
        run_id=1,
        org_id=1,
        prompt="run tests",
        initial_prompt="run tests",
        prompts=("run tests",),
        metadata={"codegen_graph_role": "tests"},
    )
    a, b = behavior.plan(ctx), behavior.plan(ctx)
    assert a == b
    assert "FAILED tests/" in a.result
    assert "failed" in a.result
    assert ScriptedBehavior(base_seconds=10, per_step_seconds=0, jitter=0).plan(ctx).duration == 10


def test_resume_appends_user_message_and_finishes_again(
    http: httpx.Client, org: str, alpha: str, clock: ManualClock
) -> None:
    run = _create(http, org, "Fix the login bug")
    clock.advance(3600)
    r = http.post(
        f"{org}/agent/run/resume", json={"agent_run_id": run["id"], "prompt": "Also add a test"}
    )
    assert r.json()["status"] == "ACTIVE"
    logs = http.get(f"{alpha}/agent/run/{run['id']}/logs").json()["logs"]
    assert logs[-1]["message_type"] == "USER_MESSAGE"
    assert logs[-1]["thought"] == "Also add a test"
    clock.advance(3600)
    body = http.get(f"{org}/agent/run/{run['id']}").json()
    assert body["status"] == "COMPLETE"
    assert body["result"].startswith("Pushed an update to the pull request")
    assert body["result"].endswith("addressing the feedback: Also add a test")
    assert len(body["github_pull_requests"]) == 1  # the same pull request, no second one
    logs = http.get(f"{alpha}/agent/run/{run['id']}/logs").json()["logs"]
    assert [e["message_type"] for e in logs].count("FINAL_ANSWER") == 2


def test_ban_stops_a_running_run(http: httpx.Client, org: str, clock: ManualClock) -> None:
    run = _create(http, org, "Long task")
    clock.advance(5)
    assert http.post(f"{org}/agent/run/ban", json={"agent_run_id": run["id"]}).status_code == 200
    clock.advance(3600)
    assert http.get(f"{org}/agent/run/{run['id']}").json()["status"] == "STOPPED"


def test_list_newest_first_filters_and_page_math(
    http: httpx.Client, org: str, clock: ManualClock, backend: LocalCodegen
) -> None:
    ids = []
    for i in range(5):
        ids.append(_create(http, org, f"task {i}")["id"])
        clock.advance(1)
    page = http.get(f"{org}/agent/runs", params={"skip": 2, "limit": 2}).json()
    assert [r["id"] for r in page["items"]] == ids[::-1][2:4]
    assert (page["total"], page["page"], page["size"], page["pages"]) == (5, 2, 2, 3)
    assert http.get(f"{org}/agent/runs", params={"user_id": backend.user_id}).json()["total"] == 5
    assert http.get(f"{org}/agent/runs", params={"user_id": 999}).json()["total"] == 0
    assert http.get(f"{org}/agent/runs", params={"source_type": "SLACK"}).json()["total"] == 0
    empty = http.get(f"{org}/agent/runs", params={"skip": 50, "limit": 2}).json()
    assert empty["items"] == []
    assert empty["page"] == 26


def test_custom_behavior_and_broken_behavior() -> None:
    class Two:
        def plan(self, ctx: RunContext) -> Outcome:
            if "boom" in ctx.prompt:
                raise RuntimeError("kaput")
            return Outcome(
                status="FAILED", result="nope", steps=(Step("PLAN_EVALUATION"),), duration=5
            )

    clock = ManualClock()
    with LocalCodegen("t", 1, clock=clock, behavior=Two()) as b, b.httpx_client() as http:
        a = http.post("/v1/organizations/1/agent/run", json={"prompt": "x"}).json()
        c = http.post("/v1/organizations/1/agent/run", json={"prompt": "boom"}).json()
        clock.advance(10)
        assert http.get(f"/v1/organizations/1/agent/run/{a['id']}").json()["status"] == "FAILED"
        broken = http.get(f"/v1/organizations/1/agent/run/{c['id']}").json()
        assert broken["status"] == "ERROR"
        assert "kaput" in broken["result"]
