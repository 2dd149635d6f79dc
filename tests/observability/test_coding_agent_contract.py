"""LangSmith's coding agent metadata contract (coding-agent-v1) on the loopback sink: the
identity block on every run of a traced workflow, the remote run as a subagent run, its
ACTION steps as tool runs, thread_id on the children, and the redaction still applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from codegen_graph import __version__
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.observability import (
    LangSmithSink,
    Redactor,
    TraceNode,
    coding_agent_metadata,
    trace_operation,
    tracing,
)

from ._workflow import TASK, compile_feature

CANARY = "canary-token-7a1f3c9e2d-never-send"
PLANTED = "sk-planted9876543210zyxwvutsrqpo"
THREAD = "feature-contract-1"
IDENTITY = {
    "ls_trace_schema_version": "coding-agent-v1",
    "ls_agent_kind": "coding-agent",
    "ls_integration": "codegen-graph",
    "ls_integration_version": __version__,
    "ls_agent_runtime": f"Codegen cloud agent (codegen-graph {__version__})",
}
SUBAGENT_ONLY = ("ls_agent_type", "ls_subagent_id", "ls_subagent_type")


@pytest.fixture
def sink() -> Iterator[LangSmithSink]:
    with LangSmithSink() as s:
        yield s


def _all(sink: LangSmithSink) -> list[TraceNode]:
    return [node for root in sink.tree() for node in root.walk()]


def _identity(node: TraceNode) -> dict[str, Any]:
    return {k: node.metadata.get(k) for k in IDENTITY}


async def test_every_run_of_a_traced_workflow_follows_the_contract(sink: LangSmithSink) -> None:
    with LocalCodegen(token=CANARY, clock=ManualClock(), scenario="tests_fail_once") as local:
        async with local.async_client() as client:
            graph = compile_feature(client)
            config: Any = {
                "configurable": {"thread_id": THREAD},
                "metadata": coding_agent_metadata(),
            }
            with tracing(endpoint=sink.url, api_key="fake-langsmith-key", redactor=Redactor()):
                await graph.ainvoke(
                    {"task": f"{TASK}. Deploy key: {PLANTED}"}, config, durability="sync"
                )
            runs = (await graph.aget_state(config)).values["runs"]

    nodes = _all(sink)
    assert len(nodes) > 20
    # The identity block and the thread on every run: the graph's, the nodes', ours, the steps'.
    for node in nodes:
        assert _identity(node) == IDENTITY, node.name
        assert node.metadata.get("thread_id") == THREAD, node.name

    # Each remote run is a subagent run; its steps are tool runs (ACTION) or chain runs,
    # never subagents themselves, and they carry the thread too.
    waits = [n for n in nodes if n.name == "codegen.wait"]
    assert len(waits) == 5  # code twice (before and after the fix), tests twice, docs once
    for wait in waits:
        assert wait.metadata["ls_agent_type"] == "subagent"
        assert wait.metadata["ls_subagent_id"] == str(wait.metadata["agent_run_id"])
        assert wait.metadata["ls_subagent_type"] == wait.metadata["role"]
        assert wait.children
        for step in wait.children:
            assert not any(k in step.metadata for k in SUBAGENT_ONLY), step.name
            assert step.metadata["thread_id"] == THREAD
            if step.metadata.get("message_type") == "ACTION":
                assert step.run_type == "tool"
    # (state keeps the latest run per role; the first, failed tests run was traced too)
    waited = {w.metadata["agent_run_id"] for w in waits}
    assert waited > {r["agent_run_id"] for r in runs.values()}
    others = [n for n in nodes if n.name != "codegen.wait"]
    assert not any("ls_subagent_id" in n.metadata for n in others)
    assert any(n.run_type == "tool" for n in nodes)

    # The redaction still applies to all of it.
    assert not sink.contains(CANARY)
    assert not sink.contains(PLANTED)


async def test_codegen_runs_follow_it_without_the_config_metadata(sink: LangSmithSink) -> None:
    with LocalCodegen(clock=ManualClock()) as local:
        async with local.async_client() as client:
            graph = compile_feature(client)
            config: Any = {"configurable": {"thread_id": "plain"}}
            with tracing(endpoint=sink.url, api_key="fake-langsmith-key"):
                await graph.ainvoke({"task": TASK}, config, durability="sync")
    ours = [n for n in _all(sink) if n.name.startswith("codegen.")]
    steps = [c for n in ours for c in n.children]
    assert ours and steps
    for node in ours + steps:
        assert _identity(node) == IDENTITY, node.name
        assert node.metadata["thread_id"] == "plain"


def test_outside_a_graph_the_trace_id_is_the_thread(sink: LangSmithSink) -> None:
    op_trace = trace_operation("codegen.wait", inputs={"agent_run_id": 1}, role="code")
    with tracing(endpoint=sink.url, api_key="fake-langsmith-key"), op_trace as op:
        assert op.run_tree is not None
        trace_id = str(op.run_tree.trace_id)
    (root,) = sink.tree()
    assert root.metadata["thread_id"] == trace_id
    assert _identity(root) == IDENTITY
