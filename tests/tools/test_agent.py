"""End to end: a scripted tool-calling model drives the Codegen tools in real agent loops.

The model starts a run with ``codegen_run_agent``, reads the ToolMessage (and its artifact),
then sends review feedback to the same run with ``codegen_resume_agent_run`` using the id it
got. The local backend must have seen exactly one create and one resume.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.local import LocalCodegen
from codegen_graph.models import AgentRunResponse
from codegen_graph.tools import CodegenToolkit

from ._scripted_model import ScriptedToolModel, call, last_tool_message


def _review_step(messages: list[BaseMessage]) -> AIMessage:
    started = last_tool_message(messages)
    assert started.status == "success"
    assert isinstance(started.artifact, AgentRunResponse)
    return call(
        "codegen_resume_agent_run",
        agent_run_id=started.artifact.id,
        prompt="Review: please also add a test for /health.",
    )


def _script() -> list[Any]:
    return [
        call("codegen_run_agent", prompt="Add a /health endpoint"),
        _review_step,
        AIMessage("The endpoint and its test are in the pull request."),
    ]


def _check_conversation(
    result: dict[str, Any], model: ScriptedToolModel, local: LocalCodegen
) -> None:
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in tool_messages] == ["codegen_run_agent", "codegen_resume_agent_run"]
    assert [m.status for m in tool_messages] == ["success", "success"]
    first, second = (m.artifact for m in tool_messages)
    assert isinstance(first, AgentRunResponse) and isinstance(second, AgentRunResponse)
    assert first.id == second.id
    assert first.status == "COMPLETE" and second.status == "COMPLETE"
    assert first.result is not None and "Add a /health endpoint" in first.result
    assert second.result is not None and "also add a test" in second.result
    # The content the model read names the run, its status and its pull request.
    assert f"Agent run {first.id}: COMPLETE." in tool_messages[0].content
    assert "Pull request:" in tool_messages[0].content
    # The model was shown the first ToolMessage (artifact included) before it resumed.
    shown = model.transcripts[1][-1]
    assert isinstance(shown, ToolMessage) and shown.artifact == first
    assert result["messages"][-1].content.startswith("The endpoint and its test")
    stats = local.stats()
    assert (stats["runs_created"], stats["runs_resumed"], stats["runs_total"]) == (1, 1, 1)


def test_create_agent_run_then_resume(local: LocalCodegen, client: CodegenClient) -> None:
    model = ScriptedToolModel(steps=_script())
    agent = create_agent(model, CodegenToolkit(client=client).get_tools())
    result = agent.invoke({"messages": [("user", "Add a /health endpoint, then review it")]})
    _check_conversation(result, model, local)


async def test_create_agent_async_with_only_an_async_client(
    local: LocalCodegen, aclient: AsyncCodegenClient
) -> None:
    model = ScriptedToolModel(steps=_script())
    agent = create_agent(model, CodegenToolkit(async_client=aclient).get_tools())
    result = await agent.ainvoke({"messages": [("user", "Add a /health endpoint")]})
    _check_conversation(result, model, local)


def test_create_agent_sync_with_only_an_async_client(
    local: LocalCodegen, aclient: AsyncCodegenClient
) -> None:
    """invoke() on tools holding only an async client: they run on the tools' portal."""
    model = ScriptedToolModel(steps=_script())
    agent = create_agent(model, CodegenToolkit(async_client=aclient).get_tools())
    result = agent.invoke({"messages": [("user", "Add a /health endpoint")]})
    _check_conversation(result, model, local)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tool_node_runs_parallel_calls(
    mode: str, local: LocalCodegen, client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    tools = CodegenToolkit(client=client, async_client=aclient).get_tools()
    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "tools")
    node = builder.compile()
    request = AIMessage(
        content="",
        tool_calls=[
            {"name": "codegen_list_repos", "args": {}, "id": "a"},
            {
                "name": "codegen_run_agent",
                "args": {"prompt": "Fix the README", "wait": False},
                "id": "b",
            },
            {"name": "codegen_get_agent_run", "args": {"agent_run_id": 424242}, "id": "c"},
        ],
    )
    state = {"messages": [request]}
    out = node.invoke(state) if mode == "sync" else await node.ainvoke(state)
    by_id = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert by_id["a"].status == "success" and "repo_id=1" in by_id["a"].content
    assert by_id["b"].status == "success" and by_id["b"].artifact.status == "PENDING"
    assert "Check it later with codegen_get_agent_run" in by_id["b"].content
    assert by_id["c"].status == "error" and "codegen_list_agent_runs" in by_id["c"].content
    assert local.stats()["runs_created"] == 1
