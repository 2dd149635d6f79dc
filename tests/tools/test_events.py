"""Progress: each new remote log entry is a ``codegen_log`` custom event, in order, once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.local import LocalCodegen
from codegen_graph.tools import (
    CODEGEN_LOG_EVENT,
    CodegenGetAgentRunTool,
    CodegenRunAgentTool,
    CodegenToolkit,
)

from ._scripted_model import ScriptedToolModel, call, last_tool_message


def _remote_log(client: CodegenClient, run_id: int) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json") for entry in client.agent_runs.iter_logs(run_id)]


async def test_astream_events_show_the_remote_log_in_order(
    local: LocalCodegen, client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    """Through a whole agent: the run's entries, then only the resume's new ones."""
    model = ScriptedToolModel(
        steps=[
            call("codegen_run_agent", prompt="Add a /health endpoint"),
            lambda messages: call(
                "codegen_resume_agent_run",
                agent_run_id=last_tool_message(messages).artifact.id,
                prompt="Please add a test too.",
            ),
            AIMessage("Done."),
        ]
    )
    agent = create_agent(model, CodegenToolkit(async_client=aclient).get_tools())
    custom: list[dict[str, Any]] = []
    tool_starts: dict[str, str] = {}
    async for event in agent.astream_events(
        {"messages": [("user", "Add a /health endpoint")]}, version="v2"
    ):
        if event["event"] == "on_tool_start":
            tool_starts[event["run_id"]] = event["name"]
        if event["event"] == "on_custom_event":
            assert event["name"] == CODEGEN_LOG_EVENT
            custom.append(event)
    run_id = custom[0]["data"]["agent_run_id"]
    log = _remote_log(client, run_id)
    assert [e["data"]["entry"] for e in custom] == log  # every entry once, in order
    assert all(e["data"]["agent_run_id"] == run_id for e in custom)
    # Each event belongs to the tool run that waited for it.
    emitters = [tool_starts[e["run_id"]] for e in custom]
    resume_at = next(i for i, entry in enumerate(log) if entry["message_type"] == "USER_MESSAGE")
    assert emitters == ["codegen_run_agent"] * resume_at + ["codegen_resume_agent_run"] * (
        len(log) - resume_at
    )
    assert log[-1]["message_type"] == "FINAL_ANSWER"


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], UUID]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


@pytest.mark.parametrize(
    ("mode", "clients"),
    [
        ("sync", "sync"),
        ("sync", "async"),  # bridged: the tools' blocking portal
        ("async", "sync"),  # bridged: a worker thread
        ("async", "async"),
    ],
)
async def test_every_bridge_delivers_events_in_order(
    mode: str, clients: str, client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    kwargs: dict[str, Any] = {"client": client} if clients == "sync" else {"async_client": aclient}
    tool = CodegenRunAgentTool(**kwargs)
    recorder = _Recorder()
    config: Any = {"callbacks": [recorder]}
    args = {"prompt": "Add a /health endpoint"}
    content = tool.invoke(args, config) if mode == "sync" else await tool.ainvoke(args, config)
    assert "COMPLETE" in content
    run_id = recorder.events[0][1]["agent_run_id"]
    assert [data["entry"] for _, data, _ in recorder.events] == _remote_log(client, run_id)
    assert {name for name, _, _ in recorder.events} == {CODEGEN_LOG_EVENT}


def test_waiting_get_reports_only_entries_that_appear_while_waiting(
    local: LocalCodegen, client: CodegenClient
) -> None:
    run = client.agent_runs.create("Add a /health endpoint")
    local.clock.advance(15)  # type: ignore[attr-defined]
    already = _remote_log(client, run.id)
    assert already  # the run has started writing
    recorder = _Recorder()
    content = CodegenGetAgentRunTool(client=client).invoke(
        {"agent_run_id": run.id, "wait": True}, {"callbacks": [recorder]}
    )
    assert "COMPLETE" in content
    seen = [data["entry"] for _, data, _ in recorder.events]
    assert already + seen == _remote_log(client, run.id)


async def test_no_callbacks_no_events_no_trouble(
    client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    """Without a run manager (a direct _run call) or any handler, waiting still works."""
    tool = CodegenRunAgentTool(client=client, async_client=aclient)
    content, artifact = tool._run(prompt="Add a /health endpoint")
    assert artifact.status == "COMPLETE" and "COMPLETE" in content
    content, artifact = await tool._arun(prompt="Add a /health endpoint")
    assert artifact.status == "COMPLETE"
    assert "COMPLETE" in tool.invoke({"prompt": "Add a /health endpoint"})


@pytest.mark.parametrize(
    ("mode", "clients"),
    [("sync", "sync"), ("sync", "async"), ("async", "sync"), ("async", "async")],
)
async def test_inside_a_graph_entries_reach_stream_mode_custom(
    mode: str, clients: str, client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    """A ToolNode in a StateGraph: every entry once, in order, in the custom stream,
    on every sync/async bridge (the writer is found where the tool is invoked)."""
    kwargs: dict[str, Any] = {"client": client} if clients == "sync" else {"async_client": aclient}
    graph = (
        StateGraph(MessagesState)
        .add_node("tools", ToolNode(CodegenToolkit(**kwargs).get_tools()))
        .add_edge(START, "tools")
        .compile()
    )
    payload = {"messages": [call("codegen_run_agent", prompt="Add a /health endpoint")]}
    if mode == "sync":
        chunks = list(graph.stream(payload, stream_mode="custom"))
    else:
        chunks = [chunk async for chunk in graph.astream(payload, stream_mode="custom")]
    run_id = chunks[0]["agent_run_id"]
    assert [c["entry"] for c in chunks] == _remote_log(client, run_id)
    assert all(
        c["event"] == CODEGEN_LOG_EVENT
        and c["tool"] == "codegen_run_agent"
        and c["agent_run_id"] == run_id
        for c in chunks
    )
