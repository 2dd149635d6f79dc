"""Exactly-once launch and resume in a busy org: node retries and re-runs after newer runs
landed, and the supervisor's resume tool called again for one tool call id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from codegen_graph import CodegenClient, RunTimeoutError
from codegen_graph._keys import INTENTS
from codegen_graph.clock import ManualClock
from codegen_graph.graph import GraphState, codegen_node, codegen_retry_policy
from codegen_graph.local import LocalCodegen, Outcome, RunContext, Step
from codegen_graph.tools import CodegenResumeAgentRunTool, CodegenRunAgentTool


class Slow:
    """Runs that take ten simulated minutes (a resume: one more minute)."""

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(
            status="COMPLETE",
            result=f"done: {ctx.prompt[:40]}",
            steps=(Step("PLAN_EVALUATION", thought="plan"),),
            duration=600.0 if ctx.segment == 1 else 60.0,
        )


@pytest.fixture
def local() -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=ManualClock(), behavior=Slow(), rate_limits=False) as backend:
        yield backend


def seed(local: LocalCodegen, n: int) -> None:
    """``n`` runs by another user: the busy org."""
    other = local.add_token()
    with local.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
        for i in range(n):
            http.post(f"/v1/organizations/{local.org_id}/agent/run", json={"prompt": f"o{i}"})


def graph_with(node: Any, *, retry: bool) -> Any:
    builder: StateGraph[Any] = StateGraph(GraphState)
    policy = codegen_retry_policy(initial_interval=0.001, jitter=False) if retry else None
    builder.add_node("code", node, retry_policy=policy)
    builder.add_edge(START, "code")
    builder.add_edge("code", END)
    return builder.compile(checkpointer=InMemorySaver())


def busy_wait_node(local: LocalCodegen, client: CodegenClient, crash: bool = False) -> Any:
    """``codegen_node(wait=True, timeout=400)``: the first wait times out (the run takes
    600 s); 150 other runs land before LangGraph retries the node (or, with ``crash``, the
    process dies there instead)."""
    inner = codegen_node("code", "Implement: {task}", client=client, timeout=400)
    attempts: list[int] = []

    def node(state: GraphState, config: RunnableConfig) -> Any:
        attempts.append(1)
        try:
            return inner(state, config)
        except RunTimeoutError:
            if len(attempts) == 1:
                seed(local, 150)
                if crash:
                    raise RuntimeError("process killed") from None
            raise

    node.attempts = attempts  # type: ignore[attr-defined]
    return node


def test_a_node_retried_after_150_newer_runs_launches_once(local: LocalCodegen) -> None:
    with local.client() as client:
        node = busy_wait_node(local, client)
        out = graph_with(node, retry=True).invoke(
            {"task": "Add /health"}, {"configurable": {"thread_id": "t"}}
        )
    stats = local.stats()
    assert len(node.attempts) == 2
    assert out["runs"]["code"]["status"] == "COMPLETE"
    assert stats["runs_created"] == 151  # ours, once, and the 150 others
    assert stats["duplicates"] == 0


def test_a_node_re_run_by_a_new_process_after_150_newer_runs_attaches(
    local: LocalCodegen, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: Any = {"configurable": {"thread_id": "t-crash"}}
    saver = InMemorySaver()
    with local.client() as client:
        node = busy_wait_node(local, client, crash=True)
        graph = graph_with(node, retry=False)
        graph.checkpointer = saver
        with pytest.raises(RuntimeError, match="process killed"):
            graph.invoke({"task": "Add /health"}, config)
    # A new process: no client memo, no record of when the launch began.
    INTENTS.clear()
    with local.client() as client:
        inner = codegen_node("code", "Implement: {task}", client=client, timeout=3600)
        again = graph_with(inner, retry=False)
        again.checkpointer = saver
        out = again.invoke(None, config)
    stats = local.stats()
    assert out["runs"]["code"]["status"] == "COMPLETE"
    assert stats["runs_created"] == 151
    assert stats["duplicates"] == 0


async def test_an_async_node_retried_after_150_newer_runs_launches_once(
    local: LocalCodegen,
) -> None:
    async with local.async_client() as client:
        inner = codegen_node("code", "Implement: {task}", client=client, timeout=400)
        attempts: list[int] = []

        async def node(state: GraphState, config: RunnableConfig) -> Any:
            attempts.append(1)
            try:
                return await inner(state, config)
            except RunTimeoutError:
                if len(attempts) == 1:
                    seed(local, 150)
                raise

        out = await graph_with(node, retry=True).ainvoke(
            {"task": "Add /ready"}, {"configurable": {"thread_id": "t"}}
        )
    assert len(attempts) == 2
    assert out["runs"]["code"]["status"] == "COMPLETE"
    assert local.stats()["runs_created"] == 151


def _call(run_id: int, call_id: str) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": call_id,
        "name": "codegen_resume_agent_run",
        "args": {"agent_run_id": run_id, "prompt": "Fix the failing test", "wait": False},
    }


class ToolState(TypedDict, total=False):
    reused: list[bool]


def tools_graph(tool: CodegenResumeAgentRunTool, run_id: int, call_id: str) -> Any:
    """A graph whose one node runs the tool call (as LangGraph's ToolNode would)."""

    def tools(state: ToolState) -> ToolState:
        message = tool.invoke(_call(run_id, call_id))
        return {"reused": [*state.get("reused", []), message.artifact.reused]}

    async def atools(state: ToolState) -> ToolState:
        message = await tool.ainvoke(_call(run_id, call_id))
        return {"reused": [*state.get("reused", []), message.artifact.reused]}

    builder: StateGraph[Any] = StateGraph(ToolState)
    builder.add_node("tools", atools if tool.client is None else tools)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_the_resume_tool_called_twice_for_one_tool_call_id_resumes_once(
    local: LocalCodegen,
) -> None:
    config: Any = {"configurable": {"thread_id": "sup-1"}}
    with local.client() as client:
        run = client.agent_runs.create_and_wait("Implement it", timeout=3600)
        tool = CodegenResumeAgentRunTool(client=client)
        first = tools_graph(tool, run.id, "call-7").invoke({}, config)
        assert local.stats()["runs_resumed"] == 1
    # The tools node re-executed after a crash: a new process, the same tool call id.
    with local.client() as client:
        tool = CodegenResumeAgentRunTool(client=client)
        again = tools_graph(tool, run.id, "call-7").invoke({}, config)
        assert first["reused"] == [False] and again["reused"] == [True]
        assert local.stats()["runs_resumed"] == 1
        # Another tool call is another follow-up.
        tools_graph(tool, run.id, "call-8").invoke({}, config)
    assert local.stats()["runs_resumed"] == 2


async def test_the_async_resume_tool_in_one_process_resumes_once(local: LocalCodegen) -> None:
    config: Any = {"configurable": {"thread_id": "sup-2"}}
    async with local.async_client() as client:
        run = await client.agent_runs.create_and_wait("Implement it", timeout=3600)
        tool = CodegenResumeAgentRunTool(async_client=client)
        graph = tools_graph(tool, run.id, "call-1")
        await graph.ainvoke({}, config)
        out = await graph.ainvoke({}, config)
    assert out["reused"] == [False, True]
    assert local.stats()["runs_resumed"] == 1


def test_outside_a_graph_the_resume_tool_has_no_key(local: LocalCodegen) -> None:
    """No graph, no thread: nothing can re-execute the call, so it is sent plainly."""
    with local.client() as client:
        run = client.agent_runs.create_and_wait("Implement it", timeout=3600)
        tool = CodegenResumeAgentRunTool(client=client)
        tool.invoke(_call(run.id, "call-9"))
        tool.invoke(_call(run.id, "call-9"))
    assert local.stats()["runs_resumed"] == 2


def test_a_keyed_resume_twice_is_one_follow_up(local: LocalCodegen) -> None:
    with local.client() as client:
        run = client.agent_runs.create_and_wait("Implement it", timeout=3600)
        first = client.agent_runs.resume(run.id, "Also add a test", idempotency_key="fu-1")
    with local.client() as client:
        again = client.agent_runs.resume(run.id, "Also add a test", idempotency_key="fu-1")
        logs = client.agent_runs.attach(run.id).logs()
    assert not first.reused and again.reused
    assert local.stats()["runs_resumed"] == 1
    follow_ups = [e for e in logs if e.message_type == "USER_MESSAGE"]
    assert len(follow_ups) == 1
    assert "[codegen-graph follow-up fu-1]" in (follow_ups[0].thought or "")


def test_the_run_tool_re_executed_for_one_tool_call_id_creates_once(local: LocalCodegen) -> None:
    class RunState(TypedDict, total=False):
        ids: list[int]

    def graph_for(tool: CodegenRunAgentTool) -> Any:
        def tools(state: RunState) -> RunState:
            call = {
                "type": "tool_call",
                "id": "call-run-1",
                "name": "codegen_run_agent",
                "args": {"prompt": "Add /health", "wait": False},
            }
            return {"ids": [*state.get("ids", []), tool.invoke(call).artifact.id]}

        builder: StateGraph[Any] = StateGraph(RunState)
        builder.add_node("tools", tools)
        builder.add_edge(START, "tools")
        builder.add_edge("tools", END)
        return builder.compile(checkpointer=InMemorySaver())

    config: Any = {"configurable": {"thread_id": "agent-1"}}
    with local.client() as client:
        first = graph_for(CodegenRunAgentTool(client=client)).invoke({}, config)
    seed(local, 150)
    with local.client() as client:  # the tools node re-executed by a new process
        again = graph_for(CodegenRunAgentTool(client=client)).invoke({}, config)
    assert first["ids"] == again["ids"]
    assert local.stats()["runs_created"] == 151
