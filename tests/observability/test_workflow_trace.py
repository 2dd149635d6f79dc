"""The feature workflow traced to the loopback LangSmith sink: the run tree from the graph
down to the remote agent's steps, the metadata, the order of steps, and no secret anywhere."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.graph import codegen_node
from codegen_graph.local import LocalCodegen
from codegen_graph.models import AgentRunLogResponse
from codegen_graph.observability import LangSmithSink, Redactor, TraceNode, tracing

from ._workflow import TASK, compile_feature, run_feature

CANARY = "canary-token-5c1d7e2b9f-never-send"
PLANTED = "sk-planted0123456789abcdefghij"


@pytest.fixture
def sink() -> Iterator[LangSmithSink]:
    with LangSmithSink() as s:
        yield s


def _step_name(entry: AgentRunLogResponse) -> str:
    kind = (entry.message_type or "LOG").upper()
    return (entry.tool_name or "action") if kind == "ACTION" else kind.lower()


def _ops(node: TraceNode) -> list[TraceNode]:
    return [c for c in node.children if c.name.startswith("codegen.")]


async def _logs(client: AsyncCodegenClient, run_id: int) -> list[AgentRunLogResponse]:
    return [e async for e in client.agent_runs.iter_logs(run_id)]


async def test_feature_workflow_trace_tree_metadata_and_redaction(sink: LangSmithSink) -> None:
    with LocalCodegen(token=CANARY, clock=ManualClock(), scenario="tests_fail_once") as local:
        async with local.async_client() as client:
            with tracing(endpoint=sink.url, api_key="fake-langsmith-key", redactor=Redactor()):
                values = await run_feature(
                    compile_feature(client), task=f"{TASK}. Deploy key: {PLANTED}"
                )
            assert values["report"]["verdict"] == "passed"
            runs = values["runs"]
            code_logs = await _logs(client, runs["code"]["agent_run_id"])
            tests_logs = await _logs(client, runs["tests"]["agent_run_id"])

    (root,) = [n for n in sink.tree() if n.name == "feature"]
    nodes = {n.name: [c for c in root.children if c.name == n.name] for n in root.children}

    # graph -> node -> codegen operation: the code node created the code run...
    ((create,),) = [_ops(n) for n in nodes["code"]]
    assert create.name == "codegen.create"
    assert create.metadata["role"] == "code"
    assert create.metadata["agent_run_id"] == runs["code"]["agent_run_id"]
    assert create.metadata["org_id"] == local.org_id
    assert create.metadata["web_url"] == runs["code"]["web_url"]
    assert create.metadata["status"] == "PENDING"

    # ...each code_wait waited for it (the second one after the fix's resume)...
    first_wait, second_wait = [_ops(n)[0] for n in nodes["code_wait"]]
    for wait in (first_wait, second_wait):
        assert wait.name == "codegen.wait"
        assert wait.metadata["role"] == "code"
        assert wait.metadata["status"] == "COMPLETE"
        assert wait.metadata["web_url"] == runs["code"]["web_url"]
    assert second_wait.metadata["pr_urls"] == runs["code"]["pr_urls"]
    assert first_wait.metadata["pr_urls"] == runs["code"]["pr_urls"][:1] != []
    ((resume,),) = [_ops(n) for n in nodes["fix"]]
    assert resume.name == "codegen.resume"
    assert resume.metadata["role"] == "code"
    assert resume.metadata["agent_run_id"] == runs["code"]["agent_run_id"]

    # ...and the remote steps are children of codegen.wait, in the backend's log order, each
    # exactly once: the second wait shows only what came after the resume.
    steps = first_wait.children + second_wait.children
    assert [c.name for c in steps] == [_step_name(e) for e in code_logs]
    assert second_wait.children[0].name == "user_message"
    for child, entry in zip(steps, code_logs, strict=True):
        assert child.run_type == ("tool" if entry.message_type == "ACTION" else "chain")
        assert child.metadata["agent_run_id"] == entry.agent_run_id
    tools = [c for c in second_wait.children if c.run_type == "tool"]
    assert tools and all(c.run.get("inputs") is not None for c in tools)

    # The tests agent: two runs (failed, then passed), both traced with their steps.
    tests_waits = [_ops(n)[0] for n in nodes["tests_wait"]]
    assert [w.metadata["status"] for w in tests_waits] == ["FAILED", "COMPLETE"]
    assert [c.name for c in tests_waits[1].children] == [_step_name(e) for e in tests_logs]
    assert {w.metadata["role"] for w in tests_waits} == {"tests"}
    (docs_wait,) = [_ops(n)[0] for n in nodes["docs_wait"]]
    assert docs_wait.metadata["role"] == "docs" and docs_wait.children

    # Neither the Codegen token nor the planted secret left the process.
    assert sink.raw_payloads
    assert not sink.contains(CANARY)
    assert not sink.contains(PLANTED)
    assert sink.contains("[REDACTED]")


class _State(TypedDict, total=False):
    task: str
    runs: Annotated[dict[str, Any], operator.or_]
    artifacts: Annotated[dict[str, Any], operator.or_]
    messages: Annotated[list[Any], operator.add]


def test_sync_node_traces_create_wait_and_steps(sink: LangSmithSink) -> None:
    """A sync node (run in LangGraph's worker thread) nests its operations the same way."""
    with LocalCodegen(token=CANARY, clock=ManualClock()) as local, local.client() as client:
        builder = StateGraph(_State)
        builder.add_node("code", codegen_node("code", "Implement: {task}", client=client))
        builder.add_edge(START, "code")
        builder.add_edge("code", END)
        graph = builder.compile(name="feature")
        with tracing(endpoint=sink.url, api_key="fake-langsmith-key", redactor=Redactor()):
            out = graph.invoke({"task": TASK}, {"configurable": {"thread_id": "s"}})
        logs = list(_sync_logs(client, out["runs"]["code"]["agent_run_id"]))

    (root,) = [n for n in sink.tree() if n.name == "feature"]
    (code,) = root.children
    create, wait = _ops(code)
    assert (create.name, wait.name) == ("codegen.create", "codegen.wait")
    assert wait.metadata["status"] == "COMPLETE" and wait.metadata["role"] == "code"
    assert [c.name for c in wait.children] == [_step_name(e) for e in logs]
    assert not sink.contains(CANARY)


def _sync_logs(client: CodegenClient, run_id: int) -> Iterator[AgentRunLogResponse]:
    return client.agent_runs.iter_logs(run_id)
