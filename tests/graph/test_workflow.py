"""The feature workflow on the local backend: parallel agents, feedback loop, approval,
custom stream events, exactly-once launch under node retries, and real checkpointers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from codegen_graph import AsyncCodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.graph import LOG_EVENT, codegen_retry_policy, feature_workflow
from codegen_graph.local import Faults, LocalCodegen, RouteFaults

TASK = "Add a /health endpoint that returns the service version"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def local(clock: ManualClock) -> AsyncIterator[LocalCodegen]:
    with LocalCodegen(clock=clock) as backend:
        yield backend


async def _drive(
    graph: Any, payload: Any, thread: str = "t1"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run until the graph ends or pauses; return custom events and the final state."""
    config = {"configurable": {"thread_id": thread}}
    custom: list[dict[str, Any]] = []
    async for mode, chunk in graph.astream(
        payload, config, stream_mode=["custom", "updates"], durability="sync"
    ):
        if mode == "custom":
            custom.append(chunk)
    state = await graph.aget_state(config)
    return custom, {"values": state.values, "next": state.next, "tasks": state.tasks}


def _compile(
    client: AsyncCodegenClient, checkpointer: BaseCheckpointSaver[Any] | None = None, **kw: Any
) -> Any:
    policy = codegen_retry_policy(initial_interval=0.001, jitter=False)
    return feature_workflow(client=client, retry_policy=policy, **kw).compile(
        checkpointer=checkpointer or InMemorySaver()
    )


async def test_happy_path_parallel_branches_and_report(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        _, end = await _drive(_compile(client), {"task": TASK})
    values = end["values"]
    report = values["report"]
    assert report["verdict"] == "passed"
    assert set(report["agents"]) == {"code", "tests", "docs"}
    assert all(a["status"] == "COMPLETE" for a in report["agents"].values())
    assert report["pr_urls"], "the code agent opened a pull request"
    assert report["iterations"].get("code", 1) == 1
    assert all(a["seconds"] and a["seconds"] > 0 for a in report["agents"].values())
    stats = local.stats()
    assert stats["runs_created"] == 3 and stats["runs_resumed"] == 0
    assert stats["duplicates"] == 0

    # The tests and docs agents ran in parallel: each started before the other finished.
    tests, docs = values["runs"]["tests"], values["runs"]["docs"]
    assert tests["created_at"] < docs["finished_at"]
    assert docs["created_at"] < tests["finished_at"]
    # ...and after the code agent finished.
    assert values["runs"]["code"]["finished_at"] <= min(tests["created_at"], docs["created_at"])

    # An AIMessage per role carries the result.
    names = [m.name for m in values["messages"] if m.type == "ai"]
    assert sorted(names) == ["code", "docs", "tests"]


async def test_custom_stream_events_carry_every_remote_log_entry(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        custom, end = await _drive(_compile(client), {"task": TASK})
        by_run: dict[int, list[dict[str, Any]]] = {}
        for event in custom:
            assert event["event"] == LOG_EVENT
            by_run.setdefault(event["agent_run_id"], []).append(event["entry"])
        runs = end["values"]["runs"]
        assert set(by_run) == {r["agent_run_id"] for r in runs.values()}
        for record in runs.values():
            logs = await (await client.agent_runs.attach(record["agent_run_id"])).logs()
            expected = [e.model_dump(mode="json", exclude_none=True) for e in logs]
            assert by_run[record["agent_run_id"]] == expected
            assert expected[-1]["message_type"] == "FINAL_ANSWER"


async def test_feedback_loop_resumes_the_code_agent(clock: ManualClock) -> None:
    with LocalCodegen(clock=clock, scenario="tests_fail_once") as local:
        async with local.async_client() as client:
            custom, end = await _drive(_compile(client), {"task": TASK})
            values = end["values"]
            code_logs = await (
                await client.agent_runs.attach(values["runs"]["code"]["agent_run_id"])
            ).logs()
        stats = local.stats()
    assert values["report"]["verdict"] == "passed"
    assert values["iterations"]["code"] == 2
    assert values["iterations"]["tests"] == 2
    # code, tests, docs, then tests again; the code agent is resumed, not re-created.
    assert stats["runs_created"] == 4
    assert stats["runs_resumed"] == 1
    assert stats["duplicates"] == 0
    # Every entry of the code agent's run reached the stream exactly once, across the resume.
    code_id = values["runs"]["code"]["agent_run_id"]
    streamed = [e["entry"] for e in custom if e["agent_run_id"] == code_id]
    assert streamed == [e.model_dump(mode="json", exclude_none=True) for e in code_logs]
    assert values["runs"]["code"]["logs_seen"] == len(code_logs)
    follow_ups = [e for e in code_logs if e.message_type == "USER_MESSAGE"]
    assert len(follow_ups) == 1
    assert "tests/test_add_health_endpoint_returns.py" in str(follow_ups[0].model_dump())
    assert "Fixed the failing test" in (values["runs"]["code"]["result"] or "")


async def test_feedback_loop_stops_at_max_iterations(clock: ManualClock) -> None:
    always_fail = {
        "rules": [
            {
                "role": "tests",
                "count": "pattern",
                "attempts": [{"status": "COMPLETE", "result": "TESTS FAILED: 2 failed"}],
            }
        ],
    }
    with LocalCodegen(clock=clock, scenario=always_fail) as local:
        async with local.async_client() as client:
            _, end = await _drive(_compile(client, max_iterations=2), {"task": TASK})
        resumed = local.stats()["runs_resumed"]
    assert end["values"]["report"]["verdict"] == "tests_failed"
    assert end["values"]["iterations"]["code"] == 2
    assert resumed == 1


async def test_human_approval_approve(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        graph = _compile(client, require_approval=True)
        _, paused = await _drive(graph, {"task": TASK})
        assert paused["next"] == ("approval",)
        question = paused["tasks"][0].interrupts[0].value
        assert question["verdict"] == "passed" and question["pr_urls"]
        _, end = await _drive(graph, Command(resume=True))
    assert end["next"] == ()
    assert end["values"]["report"]["verdict"] == "approved"
    assert local.stats()["runs_created"] == 3


async def test_human_approval_reject_with_feedback_resumes_the_code_agent(
    local: LocalCodegen,
) -> None:
    async with local.async_client() as client:
        graph = _compile(client, require_approval=True)
        await _drive(graph, {"task": TASK})
        feedback = "Please call the endpoint /healthz instead."
        _, again = await _drive(graph, Command(resume={"approve": False, "feedback": feedback}))
        assert again["next"] == ("approval",), "a new round ends at the reviewer again"
        _, end = await _drive(graph, Command(resume="approve"))
        code = end["values"]["runs"]["code"]
        logs = await (await client.agent_runs.attach(code["agent_run_id"])).logs()
    assert end["values"]["report"]["verdict"] == "approved"
    assert end["values"]["iterations"]["code"] == 2
    assert local.stats()["runs_resumed"] == 1
    assert local.stats()["runs_created"] == 4  # code, tests, docs, tests again
    assert any("/healthz" in str(e.model_dump()) for e in logs if e.message_type == "USER_MESSAGE")


async def test_node_retries_never_launch_twice(clock: ManualClock) -> None:
    # Every create is processed, then its response is lost: the node fails and its retry
    # policy runs it again, which must attach to the run it already launched.
    faults = Faults(routes={"create": RouteFaults(timeout_rate=1.0)})
    with LocalCodegen(clock=clock, faults=faults) as local:
        async with local.async_client(max_retries=0) as client:
            _, end = await _drive(_compile(client), {"task": TASK})
        stats = local.stats()
    assert end["values"]["report"]["verdict"] == "passed"
    assert stats["faults"]["create"]["timeout"] == 3
    assert stats["runs_created"] == 3
    assert stats["duplicates"] == 0


async def test_sqlite_checkpointer_and_no_token_in_checkpoints(
    local: LocalCodegen, tmp_path: Path
) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    db = tmp_path / "checkpoints.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver, local.async_client() as client:
        _, end = await _drive(_compile(client, saver), {"task": TASK})
    assert end["values"]["report"]["verdict"] == "passed"
    raw = db.read_bytes()
    assert local.token.encode() not in raw
    assert b"agent_run_id" in raw  # the state really is in there


def _postgres_dsn() -> str:
    return os.environ.get(
        "CODEGEN_GRAPH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:55432/postgres"
    )


async def test_postgres_checkpointer(local: LocalCodegen) -> None:
    psycopg = pytest.importorskip("psycopg")
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    dsn = _postgres_dsn()
    try:
        conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=3)
        await conn.close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL reachable at {dsn} ({exc}); tools/ci_postgres.sh starts one")
    async with AsyncPostgresSaver.from_conn_string(dsn) as saver:
        await saver.setup()
        async with local.async_client() as client:
            graph = _compile(client, saver, require_approval=True)
            thread = f"pg-{os.getpid()}-{id(graph)}"
            _, paused = await _drive(graph, {"task": TASK}, thread=thread)
            assert paused["next"] == ("approval",)
            # A new graph object on the same database picks the thread up.
            fresh = _compile(client, saver, require_approval=True)
            _, end = await _drive(fresh, Command(resume=True), thread=thread)
    assert end["values"]["report"]["verdict"] == "approved"
    assert local.stats()["duplicates"] == 0


@pytest.mark.parametrize(
    ("status", "result", "failed"),
    [
        ("COMPLETE", "Test report: 11 passed, 1 failed.\nFAILED tests/x.py::t - boom", True),
        ("COMPLETE", "Test report: 12 passed, 0 failed. All 12 tests passed.", False),
        ("COMPLETE", "No tests failed. TESTS PASSED", False),
        ("COMPLETE", "TESTS FAILED: 2 failed", True),
        ("COMPLETE", "1 test failed, all other tests passed", True),
        ("COMPLETE", "3 passed", False),
        ("COMPLETE", "I could not run anything", True),
        ("FAILED", "TESTS PASSED", True),
    ],
)
def test_the_gate_reads_test_reports(status: str, result: str, failed: bool) -> None:
    from codegen_graph.graph import tests_failed

    assert tests_failed({"status": status, "result": result}) is failed
    assert tests_failed(None) is True


def test_fix_re_executed_after_its_resume_does_not_resume_again(clock: ManualClock) -> None:
    # The code agent answers the same text every time, so only the log tells that a resume
    # already happened when the fix node runs again (a crash after the resume call).
    same = {"rules": [{"match": ".", "count": "run", "attempts": [{"result": "same"}]}]}
    from codegen_graph.graph._workflows import DEFAULT_PROMPTS, _fix_node

    with LocalCodegen(clock=clock, scenario=same) as local, local.client() as client:
        run = client.agent_runs.create_and_wait("Implement it")
        seen = len(run.logs())
        record = {"agent_run_id": run.id, "status": "COMPLETE", "result": "same"}
        state = {
            "task": "Implement it",
            "runs": {"code": {**record, "iteration": 1, "logs_seen": seen}},
            "iterations": {"code": 1},
            "feedback": "1 test failed",
            "feedback_source": "tests agent",
        }
        fix = _fix_node(client, DEFAULT_PROMPTS, None, None)
        first = fix(state, {})
        assert first["runs"]["code"]["status"] != "COMPLETE"
        client.agent_runs.attach(run.id).wait()  # the resumed round ends, same result
        again = fix(state, {})  # the same task again: its checkpoint never saw the first
        assert again["iterations"] == first["iterations"]
        assert local.stats()["runs_resumed"] == 1
