"""The supervisor workflow on the local backend: a scripted tool-calling model delegates to
the code agent, then the tests and docs agents in parallel, resumes the code agent with the
failure report, re-checks the tests, and answers; exactly-once delegation; max_turns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from codegen_graph import AsyncCodegenClient, CodegenClient, ConfigurationError
from codegen_graph.clock import ManualClock
from codegen_graph.graph import (
    DEFAULT_ROLES,
    supervisor_workflow,
)
from codegen_graph.graph._fold import fold_tool_results
from codegen_graph.local import LocalCodegen

from ._scripted import ScriptedSupervisor, calls, tool_call, tool_results

TASK = "Implement a /health endpoint that returns the service version"


@pytest.fixture
def local() -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=ManualClock(), scenario="tests_fail_once") as backend:
        yield backend


@pytest.fixture
async def aclient(local: LocalCodegen) -> AsyncIterator[AsyncCodegenClient]:
    async with local.async_client() as client:
        yield client


@pytest.fixture
def client(local: LocalCodegen) -> Iterator[CodegenClient]:
    with local.client() as sync_client:
        yield sync_client


def _run_of(messages: list[BaseMessage], role: str) -> int:
    """The id of the first run delegated to ``role`` (what a model reads back)."""
    for m in tool_results(messages):
        meta = getattr(m.artifact, "metadata", None) or {}
        if meta.get("codegen_graph_role") == role:
            return int(m.artifact.id)
    raise AssertionError(f"no {role} run in the conversation")


def _parallel_tests_and_docs(messages: list[BaseMessage]) -> AIMessage:
    code = tool_results(messages)[-1].artifact
    pr = code.github_pull_requests[0].url
    return calls(
        tool_call("codegen_run_agent", role="tests", prompt=f"Check the /health endpoint of {pr}."),
        tool_call(
            "codegen_run_agent", role="docs", prompt=f"Describe the /health endpoint of {pr}."
        ),
    )


def _resume_code_with_report(messages: list[BaseMessage]) -> AIMessage:
    report = next(m for m in tool_results(messages) if "FAILED" in str(m.content))
    return calls(
        tool_call(
            "codegen_resume_agent_run",
            agent_run_id=_run_of(messages, "code"),
            prompt=f"The tests agent reports failures, please fix them:\n{report.content}",
        )
    )


def _recheck_tests(messages: list[BaseMessage]) -> AIMessage:
    return calls(
        tool_call(
            "codegen_resume_agent_run",
            agent_run_id=_run_of(messages, "tests"),
            prompt="The code agent pushed a fix to the same pull request; run them again.",
        )
    )


def _script() -> list[Any]:
    return [
        calls(tool_call("codegen_run_agent", role="code", prompt=TASK)),
        _parallel_tests_and_docs,
        _resume_code_with_report,
        _recheck_tests,
        AIMessage("Done: the /health endpoint is implemented, tested and documented."),
    ]


async def _drive(
    graph: Any, payload: Any, thread: str = "t1"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    config = {"configurable": {"thread_id": thread}}
    custom: list[dict[str, Any]] = []
    async for mode, chunk in graph.astream(
        payload, config, stream_mode=["custom", "updates"], durability="sync"
    ):
        if mode == "custom":
            custom.append(chunk)
    return custom, (await graph.aget_state(config)).values


def _remote_log(client: CodegenClient, run_id: int) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in client.agent_runs.iter_logs(run_id)]


async def test_supervisor_routes_code_then_tests_and_docs_in_parallel_then_the_fix(
    local: LocalCodegen, aclient: AsyncCodegenClient, client: CodegenClient
) -> None:
    model = ScriptedSupervisor(steps=_script())
    graph = supervisor_workflow(model=model, async_client=aclient).compile(
        checkpointer=InMemorySaver()
    )
    custom, values = await _drive(graph, {"task": TASK})

    # Every delegation created one run; the fix and the re-check resumed two; no duplicate.
    stats = local.stats()
    assert (stats["runs_created"], stats["runs_resumed"], stats["duplicates"]) == (3, 2, 0)

    # One record per delegated run, keyed role:id, with its role and final state.
    runs = values["runs"]
    by_role = {r["role"]: r for r in runs.values()}
    assert set(by_role) == {"code", "tests", "docs"}
    assert set(runs) == {f"{role}:{r['agent_run_id']}" for role, r in by_role.items()}
    code, tests, docs = by_role["code"], by_role["tests"], by_role["docs"]
    assert (code["status"], code["iteration"]) == ("COMPLETE", 2)
    assert "Fixed the failing test" in code["result"]
    assert (tests["status"], tests["iteration"]) == ("COMPLETE", 2)
    assert "All 12 tests passed" in tests["result"]
    assert (docs["status"], docs["iteration"]) == ("COMPLETE", 1)
    assert code["pr_urls"] and docs["pr_urls"]
    assert all(r["idempotency_key"].startswith("cg1-call-") for r in runs.values())
    assert values["iterations"] == {"code": 2, "tests": 2, "docs": 1}
    assert {role: a["agent_run_id"] for role, a in values["artifacts"].items()} == {
        role: r["agent_run_id"] for role, r in by_role.items()
    }
    assert values["errors"] == []

    # The tests and docs agents were delegated in one turn and ran at the same time.
    assert abs(tests["created_at"] - docs["created_at"]) < 1
    assert docs["finished_at"] - docs["created_at"] > 30

    # The report mirrors the feature workflow's.
    report = values["report"]
    assert report["verdict"] == "done" and report["turns"] == 5
    assert report["answer"].startswith("Done: the /health endpoint")
    assert report["task"] == TASK
    assert set(report["pr_urls"]) == set(code["pr_urls"]) | set(docs["pr_urls"])
    assert {a["role"] for a in report["agents"].values()} == {"code", "tests", "docs"}
    assert all(a["seconds"] > 0 for a in report["agents"].values())

    # What the model saw: the system prompt with the roles, and the six tools.
    first = model.transcripts[0]
    assert isinstance(first[0], SystemMessage)
    assert all(DEFAULT_ROLES[role] in first[0].text for role in DEFAULT_ROLES)
    assert model.bound == [
        "codegen_run_agent",
        "codegen_resume_agent_run",
        "codegen_get_agent_run",
        "codegen_get_agent_run_logs",
        "codegen_list_agent_runs",
        "codegen_list_repos",
    ]
    # The failure report reached the model as a normal tool result that says FAILED.
    failed = [m for m in model.transcripts[2] if isinstance(m, ToolMessage) and "FAILED" in m.text]
    assert failed and failed[0].status == "success"

    # The custom stream carried every remote log entry of every run, once and in order;
    # the delegation's entries name their role.
    for record in runs.values():
        run_id = record["agent_run_id"]
        mine = [c for c in custom if c["agent_run_id"] == run_id]
        assert [c["entry"] for c in mine] == _remote_log(client, run_id)
        assert {c["role"] for c in mine if c["tool"] == "codegen_run_agent"} == {record["role"]}
        assert {c["tool"] for c in mine} == {"codegen_run_agent", "codegen_resume_agent_run"} - (
            {"codegen_resume_agent_run"} if record["iteration"] == 1 else set()
        )
    assert {c["event"] for c in custom} == {"codegen_log"}


def test_sync_graph_with_a_sync_client_streams_custom_events(
    local: LocalCodegen, client: CodegenClient
) -> None:
    """stream() with only a sync client: the same loop, records and progress events."""
    model = ScriptedSupervisor(
        steps=[
            calls(tool_call("codegen_run_agent", role="code", prompt=TASK)),
            AIMessage("Done."),
        ]
    )
    graph = supervisor_workflow(model=model, client=client, roles={"code": "Write code."})
    custom, updates = [], []
    for mode, chunk in graph.compile().stream({"task": TASK}, stream_mode=["custom", "updates"]):
        (custom if mode == "custom" else updates).append(chunk)
    assert [next(iter(u)) for u in updates] == [
        "supervisor",
        "tools",
        "record",
        "supervisor",
        "report",
    ]
    report = updates[-1]["report"]["report"]
    (record,) = report["agents"].values()
    assert record["role"] == "code" and record["status"] == "COMPLETE"
    assert [c["entry"] for c in custom] == _remote_log(client, record["agent_run_id"])
    assert {c["role"] for c in custom} == {"code"}
    stats = local.stats()
    assert (stats["runs_created"], stats["duplicates"]) == (1, 0)


async def test_a_delegation_interrupted_mid_run_is_not_launched_again(
    local: LocalCodegen, aclient: AsyncCodegenClient
) -> None:
    """The stream is dropped while the code agent's run is in flight (like a crash); the
    thread is resumed from its checkpoint: the tools node runs the same tool call again and
    attaches to the run it created instead of paying for a second one."""
    model = ScriptedSupervisor(
        steps=[
            calls(tool_call("codegen_run_agent", role="code", prompt=TASK)),
            AIMessage("Done."),
        ]
    )
    graph = supervisor_workflow(model=model, async_client=aclient).compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "crash"}}
    stream = graph.astream({"task": TASK}, config, stream_mode="custom", durability="sync")
    first = await anext(stream)  # the run exists and is working
    await stream.aclose()
    assert local.stats()["runs_created"] == 1
    assert (await graph.aget_state(config)).next == ("tools",)

    _, values = await _drive(graph, None, thread="crash")
    stats = local.stats()
    assert (stats["runs_created"], stats["duplicates"]) == (1, 0)
    (record,) = values["runs"].values()
    assert record["agent_run_id"] == first["agent_run_id"]
    assert record["status"] == "COMPLETE" and values["report"]["verdict"] == "done"


async def test_max_turns_stops_the_loop_and_a_new_message_starts_a_new_budget(
    local: LocalCodegen, aclient: AsyncCodegenClient
) -> None:
    # A fresh message (new ids) each turn, as a real model answers.
    model = ScriptedSupervisor(steps=[lambda _: calls(tool_call("codegen_list_agent_runs"))])
    graph = supervisor_workflow(model=model, async_client=aclient, max_turns=2).compile(
        checkpointer=InMemorySaver()
    )
    _, values = await _drive(graph, {"task": "Look around"}, thread="busy")
    assert len(model.transcripts) == 2
    assert values["report"]["verdict"] == "max_turns"
    last = values["messages"][-1]
    assert isinstance(last, AIMessage) and "max_turns" in last.text and not last.tool_calls
    # Every tool call was answered: the thread can go on.
    asked = {c["id"] for m in values["messages"] if isinstance(m, AIMessage) for c in m.tool_calls}
    answered = {m.tool_call_id for m in values["messages"] if isinstance(m, ToolMessage)}
    assert asked == answered
    assert values["runs"] == {} and local.stats()["runs_created"] == 0

    model.steps = [AIMessage("Nothing to do.")]
    model.transcripts = []
    _, values = await _drive(graph, {"messages": [("user", "Anything else?")]}, thread="busy")
    assert len(model.transcripts) == 1
    assert values["report"]["verdict"] == "done" and values["report"]["turns"] == 1


async def test_tool_errors_are_recorded_and_the_model_carries_on(
    local: LocalCodegen, aclient: AsyncCodegenClient
) -> None:
    model = ScriptedSupervisor(
        steps=[
            calls(
                tool_call("codegen_resume_agent_run", agent_run_id=424242, prompt="go on"),
                tool_call("codegen_run_agent", role="designer", prompt="Draw a logo"),
            ),
            AIMessage("I could not do it."),
        ]
    )
    graph = supervisor_workflow(model=model, async_client=aclient).compile(
        checkpointer=InMemorySaver()
    )
    _, values = await _drive(graph, {"task": "Resume run 424242"}, thread="err")
    errors = values["errors"]
    assert [e["message"].split(":")[0] for e in errors] == [
        "codegen_resume_agent_run",
        "codegen_run_agent",
    ]
    assert {e["node"] for e in errors} == {"tools"} and "key" not in errors[0]
    assert "no agent run 424242" in errors[0]["message"]
    assert "role: Input should be 'code', 'tests' or 'docs'" in errors[1]["message"]
    assert errors[1]["role"] == "designer"  # what the model asked for
    assert values["report"]["errors"] == 2 and values["runs"] == {}
    assert local.stats()["runs_created"] == 0


async def test_get_on_a_delegated_run_updates_its_record_and_unknown_runs_are_not_recorded(
    local: LocalCodegen, aclient: AsyncCodegenClient, client: CodegenClient
) -> None:
    stranger = client.agent_runs.create("Someone else's run").id

    def check(messages: list[BaseMessage]) -> AIMessage:
        run_id = tool_results(messages)[-1].artifact.id
        return calls(
            tool_call("codegen_get_agent_run", agent_run_id=run_id, wait=True),
            tool_call("codegen_get_agent_run", agent_run_id=stranger),
        )

    model = ScriptedSupervisor(
        steps=[
            calls(tool_call("codegen_run_agent", role="docs", prompt="Describe it", wait=False)),
            check,
            AIMessage("Done."),
        ]
    )
    graph = supervisor_workflow(model=model, async_client=aclient).compile(
        checkpointer=InMemorySaver()
    )
    _, values = await _drive(graph, {"task": "Describe the API"}, thread="get")
    (key,) = values["runs"]
    record = values["runs"][key]
    assert key.startswith("docs:") and record["status"] == "COMPLETE"
    assert (record["iteration"], record["seq"]) == (1, 1)
    assert stranger not in {r["agent_run_id"] for r in values["runs"].values()}


def test_configuration_errors(client: CodegenClient) -> None:
    model = ScriptedSupervisor(steps=[AIMessage("hi")])
    with pytest.raises(ConfigurationError, match="needs a client"):
        supervisor_workflow(model=model)
    with pytest.raises(ConfigurationError, match="max_turns"):
        supervisor_workflow(model=model, client=client, max_turns=0)
    with pytest.raises(ConfigurationError, match="at least one"):
        supervisor_workflow(model=model, client=client, roles={})
    with pytest.raises(ConfigurationError, match="without ':'"):
        supervisor_workflow(model=model, client=client, roles={"a:b": "x"})
    with pytest.raises(ConfigurationError, match="chat model"):
        supervisor_workflow(model="gpt-4", client=client)  # type: ignore[arg-type]
    graph = supervisor_workflow(model=model, client=client).compile()
    with pytest.raises(ConfigurationError, match="'task' or a human message"):
        graph.invoke({})


def test_the_role_argument_lists_the_roles_and_the_prompt_template_fills_them(
    client: CodegenClient,
) -> None:
    model = ScriptedSupervisor(steps=[AIMessage("ok")])
    roles = {"backend": "You write Python services.", "frontend": "You write TypeScript."}
    graph = supervisor_workflow(
        model=model, client=client, roles=roles, system_prompt="Agents:\n{roles}"
    )
    tools = graph.compile().get_graph()  # builds; the tool schema comes from the ToolNode
    assert tools is not None
    graph.compile().invoke({"task": "hello"})
    system = model.transcripts[0][0]
    assert (
        system.text
        == "Agents:\n- backend: You write Python services.\n- frontend: You write TypeScript."
    )
    node = graph.nodes["tools"].runnable
    schema = node.tools_by_name["codegen_run_agent"].tool_call_schema.model_json_schema()
    assert schema["properties"]["role"]["enum"] == ["backend", "frontend"]
    assert schema["required"][0] == "role"


def test_fold_reads_artifacts_that_came_back_from_a_checkpoint_as_dicts() -> None:
    """The record node is pure; a run artifact may be a dict after a JSON checkpointer."""
    run = {
        "id": 7,
        "organization_id": 1,
        "status": "COMPLETE",
        "result": "done",
        "metadata": {"codegen_graph_role": "code", "codegen_graph_idempotency_key": "k"},
        "github_pull_requests": [
            {"id": 1, "url": "https://example.invalid/pr/1", "created_at": "2025-01-01T00:00:00Z"}
        ],
    }
    ask = calls(tool_call("codegen_resume_agent_run", agent_run_id=7, prompt="again"))
    answer = ToolMessage(
        "Agent run 7: COMPLETE.", tool_call_id=ask.tool_calls[0]["id"], artifact=run
    )
    before = {
        "code:7": {"key": "code:7", "role": "code", "agent_run_id": 7, "iteration": 1, "seq": 0}
    }
    update = fold_tool_results({"messages": [ask, answer], "runs": before}, now=100.0)
    record = update["runs"]["code:7"]
    assert (record["iteration"], record["seq"], record["status"]) == (2, 1, "COMPLETE")
    assert record["pr_urls"] == ["https://example.invalid/pr/1"]
    assert record["idempotency_key"] == "k" and record["finished_at"] == 100.0
    assert update["artifacts"]["code"]["result"] == "done"
    assert update["iterations"] == {"code": 2}
    # An artifact that is not a run is skipped, not a crash.
    odd = ToolMessage(
        "?", tool_call_id=ask.tool_calls[0]["id"], artifact={"id": 1, "organization_id": "x"}
    )
    assert fold_tool_results({"messages": [ask, odd], "runs": before}, now=1.0) == {}
    # An error about a recorded run names its record.
    refused = ToolMessage("busy", tool_call_id=ask.tool_calls[0]["id"], status="error")
    (error,) = fold_tool_results({"messages": [ask, refused], "runs": before}, now=2.0)["errors"]
    assert (error["key"], error["role"]) == ("code:7", "code")
    assert error["message"] == "codegen_resume_agent_run: busy"
    # Nothing to fold without a tool-calling AIMessage.
    assert fold_tool_results({"messages": [AIMessage("hi")]}, now=1.0) == {}
