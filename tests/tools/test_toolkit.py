"""The toolkit, the tools' construction, what the model reads, and the public surface."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from langchain_core.messages import ToolCall

import codegen_graph
import codegen_graph.tools as tools_pkg
from codegen_graph import AsyncCodegenClient, CodegenClient, ConfigurationError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.models import AgentRunResponse, Page
from codegen_graph.tools import (
    DEFAULT_TIMEOUT,
    TOOL_NAMES,
    CodegenGetAgentRunLogsTool,
    CodegenGetAgentRunTool,
    CodegenListAgentRunsTool,
    CodegenRunAgentTool,
    CodegenStopAgentRunTool,
    CodegenTool,
    CodegenToolkit,
)

from ._scenarios import TESTS_FAIL_ONCE


def test_toolkit_gives_all_seven_tools_in_order(client: CodegenClient) -> None:
    tools = CodegenToolkit(client=client).get_tools()
    assert (
        [t.name for t in tools]
        == list(TOOL_NAMES)
        == [
            "codegen_run_agent",
            "codegen_get_agent_run",
            "codegen_resume_agent_run",
            "codegen_stop_agent_run",
            "codegen_list_agent_runs",
            "codegen_get_agent_run_logs",
            "codegen_list_repos",
        ]
    )
    assert all(isinstance(t, CodegenTool) and t.client is client for t in tools)
    assert all(t.response_format == "content_and_artifact" for t in tools)
    assert all(t.default_timeout == DEFAULT_TIMEOUT for t in tools)


def test_toolkit_include_selects_a_subset(client: CodegenClient) -> None:
    toolkit = CodegenToolkit(
        client=client, include=["codegen_list_repos", "codegen_run_agent"], default_timeout=60
    )
    tools = toolkit.get_tools()
    assert [t.name for t in tools] == ["codegen_run_agent", "codegen_list_repos"]
    assert {t.default_timeout for t in tools} == {60}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a client"),
        ({"include": ["codegen_run"]}, "unknown Codegen tool name"),
        ({"include": "codegen_run_agent"}, "list of tool names"),
    ],
)
def test_toolkit_refuses_bad_configuration(
    kwargs: dict[str, object], message: str, client: CodegenClient
) -> None:
    if kwargs:
        kwargs = {"client": client, **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        CodegenToolkit(**kwargs)  # type: ignore[arg-type]


def test_tool_refuses_missing_or_swapped_clients(
    client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    with pytest.raises(ConfigurationError, match="needs a client"):
        CodegenRunAgentTool()
    with pytest.raises(ConfigurationError, match="pass it as async_client"):
        CodegenRunAgentTool(client=aclient)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="async_client must be an AsyncCodegenClient"):
        CodegenRunAgentTool(async_client=client)  # type: ignore[arg-type]


def test_every_argument_is_described_for_the_model(client: CodegenClient) -> None:
    for tool in CodegenToolkit(client=client).get_tools():
        assert len(tool.description) > 60, tool.name
        schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
        for name, prop in schema["properties"].items():
            assert len(prop.get("description", "")) > 15, (tool.name, name)


def test_the_token_never_shows(local: LocalCodegen, client: CodegenClient) -> None:
    toolkit = CodegenToolkit(client=client)
    tool = toolkit.get_tools()[0]
    for text in (repr(toolkit), repr(tool), str(tool), json.dumps(tool.model_dump(), default=str)):
        assert local.token not in text
    assert "client" not in tool.model_dump()


def test_wait_false_returns_at_once(local: LocalCodegen, client: CodegenClient) -> None:
    before = local.clock.now()
    message = CodegenRunAgentTool(client=client).invoke(
        ToolCall(
            name="codegen_run_agent",
            args={"prompt": "Fix it", "wait": False},
            id="1",
            type="tool_call",
        )
    )
    assert local.clock.now() == before  # no waiting at all
    assert message.artifact.status == "PENDING"
    assert f"Agent run {message.artifact.id}: PENDING." in message.content
    assert "codegen_get_agent_run" in message.content


async def test_get_waits_when_asked(local: LocalCodegen, aclient: AsyncCodegenClient) -> None:
    run = await aclient.agent_runs.create("Add a /health endpoint")
    tool = CodegenGetAgentRunTool(async_client=aclient)
    now = await tool.ainvoke(
        ToolCall(name=tool.name, args={"agent_run_id": run.id}, id="1", type="tool_call")
    )
    assert now.artifact.status == "PENDING"
    done = await tool.ainvoke(
        ToolCall(
            name=tool.name, args={"agent_run_id": run.id, "wait": True}, id="2", type="tool_call"
        )
    )
    assert done.status == "success" and done.artifact.status == "COMPLETE"
    assert "Pull request:" in done.content and "Web: http://localhost/agent/trace/" in done.content


def test_a_failed_run_read_by_get_is_not_an_error() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario=TESTS_FAIL_ONCE) as local,
        local.client() as c,
    ):
        run = c.agent_runs.create_and_wait("Run the tests")
        message = CodegenGetAgentRunTool(client=c).invoke(
            ToolCall(
                name="codegen_get_agent_run",
                args={"agent_run_id": run.id},
                id="1",
                type="tool_call",
            )
        )
        assert message.status == "success"
        assert f"Agent run {run.id}: FAILED." in message.content
        assert "test_health_returns_ok" in message.content


def test_long_results_are_cut_and_say_so() -> None:
    long_result = "All good. " * 600
    scenario = {"rules": [{"match": "long", "attempts": [{"result": long_result}]}]}
    with LocalCodegen(clock=ManualClock(), scenario=scenario) as local, local.client() as c:
        tool = CodegenRunAgentTool(client=c, max_result_chars=200)
        message = tool.invoke(
            ToolCall(name=tool.name, args={"prompt": "a long task"}, id="1", type="tool_call")
        )
    assert message.artifact.result == long_result  # the artifact keeps everything
    assert f"Result truncated to 200 of {len(long_result)} characters" in message.content
    assert len(message.content) < 700


def test_listing_runs_pages_and_says_how_to_go_on(
    local: LocalCodegen, client: CodegenClient
) -> None:
    for i in range(3):
        client.agent_runs.create(f"task {i}")
    message = CodegenListAgentRunsTool(client=client).invoke(
        ToolCall(name="codegen_list_agent_runs", args={"limit": 2}, id="1", type="tool_call")
    )
    assert isinstance(message.artifact, Page) and len(message.artifact.items) == 2
    assert all(isinstance(r, AgentRunResponse) for r in message.artifact.items)
    assert message.content.startswith("Agent runs 1-2 of 3 (newest first):")
    assert "More: call again with skip=2." in message.content


def test_logs_in_either_order(client: CodegenClient, finished_run: int) -> None:
    tool = CodegenGetAgentRunLogsTool(client=client)
    oldest = tool.invoke(
        ToolCall(
            name=tool.name,
            args={"agent_run_id": finished_run, "limit": 2},
            id="1",
            type="tool_call",
        )
    )
    newest = tool.invoke(
        ToolCall(
            name=tool.name,
            args={"agent_run_id": finished_run, "limit": 1, "newest_first": True},
            id="2",
            type="tool_call",
        )
    )
    assert "PLAN_EVALUATION" in oldest.content.splitlines()[1]
    assert newest.artifact.logs[0].message_type == "FINAL_ANSWER"
    assert f"Agent run {finished_run}: COMPLETE;" in newest.content


def test_public_surface_is_sorted_and_lean() -> None:
    for name in tools_pkg.__all__:
        assert hasattr(tools_pkg, name)
    assert "CodegenToolkit" not in codegen_graph.__all__


def test_importing_the_package_does_not_import_the_tools() -> None:
    code = "import sys, codegen_graph; print('codegen_graph.tools' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("mode", ["sync", "async", "sync-on-async-client", "async-on-sync-client"])
async def test_stop_ends_a_running_run_stopped(
    mode: str, local: LocalCodegen, client: CodegenClient, aclient: AsyncCodegenClient
) -> None:
    run = client.agent_runs.create("Add a /health endpoint")
    local.clock.advance(5)  # type: ignore[attr-defined]
    assert client.agent_runs.get(run.id).status == "ACTIVE"
    clients = {"client": client} if mode in ("sync", "async-on-sync-client") else {}
    tool = CodegenStopAgentRunTool(**clients, async_client=None if clients else aclient)
    call = ToolCall(name=tool.name, args={"agent_run_id": run.id}, id="1", type="tool_call")
    message = tool.invoke(call) if mode.startswith("sync") else await tool.ainvoke(call)
    assert message.status == "success"
    assert message.artifact.status == "STOPPED"
    assert f"Agent run {run.id}: STOPPED." in message.content
    local.clock.advance(3600)  # type: ignore[attr-defined]
    assert client.agent_runs.get(run.id).status == "STOPPED"  # it stays stopped


def test_stop_leaves_a_finished_run_as_it_was(client: CodegenClient, finished_run: int) -> None:
    tool = CodegenStopAgentRunTool(client=client)
    args = {"agent_run_id": finished_run}
    message = tool.invoke(ToolCall(name=tool.name, args=args, id="1", type="tool_call"))
    assert message.artifact.status == "COMPLETE"
    assert f"Agent run {finished_run}: COMPLETE." in message.content
