"""Scenario files and the chat-model adapter, end to end through the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from codegen_graph.clock import ManualClock
from codegen_graph.local import (
    ChatModelBehavior,
    LocalCodegen,
    ScenarioError,
    bundled_scenarios,
    load_scenario,
)

ORG = "/v1/organizations/1"


def _finish(http: httpx.Client, clock: ManualClock, run_id: int) -> dict[str, object]:
    clock.advance(3600)
    return http.get(f"{ORG}/agent/run/{run_id}").json()  # type: ignore[no-any-return]


def _run(http: httpx.Client, prompt: str, role: str, task: str | None = None) -> dict[str, object]:
    meta = {"codegen_graph_role": role, **({"codegen_graph_task": task} if task else {})}
    body = {"prompt": prompt, "metadata": meta}
    return http.post(f"{ORG}/agent/run", json=body).json()  # type: ignore[no-any-return]


def test_fail_once_pass_after_resume_end_to_end() -> None:
    """The bundled scenario: tests fail, the code agent is resumed, tests pass."""
    clock = ManualClock()
    task = "Add a /health endpoint"
    with (
        LocalCodegen("t", 1, clock=clock, scenario="tests_fail_once") as b,
        b.httpx_client() as http,
    ):
        code = _run(http, f"Implement it.\n\n{task}", "code", task)
        assert _finish(http, clock, code["id"])["status"] == "COMPLETE"
        tests = _run(http, "Run the tests", "tests", task)
        failed = _finish(http, clock, tests["id"])
        assert failed["status"] == "FAILED"
        # The failing test is named after the task, not after the bundled file's example.
        assert "FAILED tests/test_add_health_endpoint.py" in failed["result"]
        assert failed["github_pull_requests"] == []
        body = {"agent_run_id": code["id"], "prompt": f"Fix this.\n\n{failed['result']}"}
        http.post(f"{ORG}/agent/run/resume", json=body).raise_for_status()
        fixed = _finish(http, clock, code["id"])
        assert fixed["result"] == (
            f"Fixed the failing test in run {code['id']} and pushed to the same pull request: "
            "Test report: 11 passed, 1 failed. FAILED tests/test_add_health_endpoint.py::"
            "test_add_health_endpoint_works - AssertionError: expected the new behaviour"
        )
        assert len(fixed["github_pull_requests"]) == 1  # pushed to the same PR
        again = _run(http, "Run the tests", "tests", task)
        passed = _finish(http, clock, again["id"])
        assert passed["status"] == "COMPLETE"
        assert "All 12 tests passed" in passed["result"]
        assert passed["summary"] == "All tests passed on attempt 2."


def test_scenario_rules_pick_runs_by_role_not_by_words() -> None:
    """A code run whose task says "tests" is still a code run; a plain run is one too."""
    clock = ManualClock()
    with (
        LocalCodegen("t", 1, clock=clock, scenario="tests_fail_once") as b,
        b.httpx_client() as http,
    ):
        code = _run(http, "Fix the failing login tests", "code")
        plain = http.post(f"{ORG}/agent/run", json={"prompt": "Run the tests"}).json()
        for run in (code, plain):
            done = _finish(http, clock, run["id"])
            assert done["status"] == "COMPLETE"
            assert len(done["github_pull_requests"]) == 1


def test_scenario_from_json_file_per_run_counting(tmp_path: Path) -> None:
    doc = {
        "name": "per-run",
        "rules": [
            {
                "match": "deploy",
                "count": "run",
                "attempts": [
                    {"status": "ERROR", "result": "boom {attempt}", "duration": 10},
                    {
                        "status": "COMPLETE",
                        "result": "ok {attempt}",
                        "steps": [{"message_type": "ACTION", "tool_name": "sh"}],
                    },
                ],
            }
        ],
        "fallback": "error",
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    clock = ManualClock()
    with LocalCodegen("t", 1, clock=clock, scenario=path) as b, b.httpx_client() as http:
        r1 = http.post(f"{ORG}/agent/run", json={"prompt": "deploy it"}).json()
        r2 = http.post(f"{ORG}/agent/run", json={"prompt": "deploy that"}).json()
        other = http.post(f"{ORG}/agent/run", json={"prompt": "unrelated"}).json()
        assert _finish(http, clock, r1["id"])["result"] == "boom 1"
        assert _finish(http, clock, r2["id"])["result"] == "boom 1"  # counted per run
        assert _finish(http, clock, other["id"])["status"] == "ERROR"
        http.post(f"{ORG}/agent/run/resume", json={"agent_run_id": r1["id"], "prompt": "again"})
        assert _finish(http, clock, r1["id"])["result"] == "ok 2"
        resp = http.get(f"/v1/alpha/organizations/1/agent/run/{r1['id']}/logs")
        assert resp.status_code == 200, resp.text
        logs = resp.json()["logs"]
        types = [e["message_type"] for e in logs]
        second = logs[types.index("USER_MESSAGE") :]
        assert [e["tool_name"] for e in second if e["message_type"] == "ACTION"] == ["sh"]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"rules": []}, "non-empty"),
        ({"rules": [{"match": "(", "attempts": [{}]}]}, "regex"),
        ({"rules": [{"attempts": [{"status": "DONE"}]}]}, "status"),
        ({"rules": [{"attempts": [{"colour": 1}]}]}, "unknown keys"),
        ({"rules": [{"count": "daily", "attempts": [{}]}]}, "count"),
        ({"rules": [{"attempts": [{"duration": -1}]}]}, "duration"),
        ({"rules": [{"role": 3, "attempts": [{}]}]}, "role"),
        ({"rules": [{"role": [], "attempts": [{}]}]}, "role"),
    ],
)
def test_bad_scenarios_say_what_is_wrong(doc: dict[str, object], fragment: str) -> None:
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario(doc)


def test_bundled_scenarios_load() -> None:
    names = bundled_scenarios()
    assert {"tests_fail_once", "flaky_agent"} <= set(names)
    for name in names:
        assert load_scenario(name).rules
    with pytest.raises(ScenarioError, match="bundled"):
        load_scenario("no-such-scenario")


def test_chat_model_answers_and_resume_continues_the_conversation() -> None:
    model = GenericFakeChatModel(
        messages=iter([AIMessage("42 is the answer."), AIMessage("Still 42.")])
    )
    clock = ManualClock()
    behavior = ChatModelBehavior(model, system_prompt="Be brief.", duration=12)
    with LocalCodegen("t", 1, clock=clock, behavior=behavior) as b, b.httpx_client() as http:
        run = http.post(f"{ORG}/agent/run", json={"prompt": "What is the answer?"}).json()
        clock.advance(11)
        assert http.get(f"{ORG}/agent/run/{run['id']}").json()["status"] == "ACTIVE"
        done = _finish(http, clock, run["id"])
        assert done["status"] == "COMPLETE"
        assert done["result"] == "42 is the answer."
        http.post(f"{ORG}/agent/run/resume", json={"agent_run_id": run["id"], "prompt": "Sure?"})
        assert _finish(http, clock, run["id"])["result"] == "Still 42."
        exhausted = http.post(f"{ORG}/agent/run", json={"prompt": "again"}).json()
        err = _finish(http, clock, exhausted["id"])
        assert err["status"] == "ERROR"  # the fake model has no more answers


def test_chat_model_behavior_needs_invoke() -> None:
    with pytest.raises(TypeError, match="invoke"):
        ChatModelBehavior(object())
