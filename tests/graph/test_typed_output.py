"""Typed results in graphs and tools: output_schema= on codegen_node, codegen_wait_node and
the run tool, on the local backend."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field

from codegen_graph import OutputValidationError
from codegen_graph.clock import ManualClock
from codegen_graph.graph import GraphState, codegen_node, codegen_wait_node
from codegen_graph.local import LocalCodegen, Outcome, RunContext
from codegen_graph.tools import CodegenRunAgentTool, TypedAgentRunResponse


class Change(BaseModel):
    files_changed: list[str] = Field(min_length=1)
    risk: str = Field(pattern="^(low|medium|high)$", default="low")
    follow_ups: list[str] = []


def _one_node(node: Any) -> Any:
    builder = StateGraph(GraphState)
    builder.add_node("code", node)
    builder.add_edge(START, "code")
    builder.add_edge("code", END)
    return builder.compile(checkpointer=InMemorySaver())


def _split(launch: Any, wait: Any) -> Any:
    builder = StateGraph(GraphState)
    builder.add_node("launch", launch)
    builder.add_node("wait", wait)
    builder.add_edge(START, "launch")
    builder.add_edge("launch", "wait")
    builder.add_edge("wait", END)
    return builder.compile(checkpointer=InMemorySaver())


CONFIG: Any = {"configurable": {"thread_id": "typed-1"}}


def test_the_parsed_object_lands_in_state_and_artifacts() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
    ):
        node = codegen_node("code", "Implement a typed {task}", client=client, output_schema=Change)
        state = _one_node(node).invoke({"task": "health endpoint"}, CONFIG)
        stats = local.stats()
    record = state["runs"]["code"]
    assert Change.model_validate(record["output"]).files_changed
    assert record["output_attempts"] == 3
    assert state["artifacts"]["code"]["output"] == record["output"]
    assert record["status"] == "COMPLETE"
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 2)


def test_launch_then_wait_node_valid_at_once() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        launch = codegen_node(
            "code", "Implement {task}", client=client, wait=False, output_schema=Change
        )
        wait = codegen_wait_node("code", client=client, output_schema=Change)
        state = _split(launch, wait).invoke({"task": "a health endpoint"}, CONFIG)
        stats = local.stats()
    assert state["runs"]["code"]["output_attempts"] == 1
    assert Change.model_validate(state["artifacts"]["code"]["output"])
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 0)


def test_never_valid_fails_the_node_without_extra_runs() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
    ):
        node = codegen_node("code", "never valid: {task}", client=client, output_schema=Change)
        with pytest.raises(OutputValidationError) as info:
            _one_node(node).invoke({"task": "x"}, CONFIG)
        stats = local.stats()
    assert [a.number for a in info.value.attempts] == [1, 2, 3]
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 2)


async def test_async_node_repairs_and_records() -> None:
    with LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local:
        async with local.async_client() as client:
            node = codegen_node(
                "code", "Implement a typed {task}", client=client, output_schema=Change
            )
            state = await _one_node(node).ainvoke({"task": "endpoint"}, CONFIG)
        stats = local.stats()
    assert state["runs"]["code"]["output_attempts"] == 3
    assert Change.model_validate(state["artifacts"]["code"]["output"])
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 2)


class Answers:
    """Every segment of a run ends ``COMPLETE`` with the same answer."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(status="COMPLETE", result=self.answer)


CODE = 'if (x) { return {"k": x}; }\n' * 25_000  # 700 KB, many "{", no JSON object
NESTED = '{"a": ' * 2150 + "1" + "}" * 2150  # 15 KB, far deeper than 100 levels


@pytest.mark.parametrize(
    "answer", [f'{CODE}{{"files_changed": ["a.py"]}}', NESTED], ids=["long", "nested"]
)
async def test_an_async_node_checks_a_long_or_deep_answer_without_blocking_the_loop(
    answer: str, loop_stalls: Any
) -> None:
    with LocalCodegen(clock=ManualClock(), behavior=Answers(answer)) as local:
        async with local.async_client() as client:
            node = codegen_node("code", "Refactor {task}", client=client, output_schema=Change)
            state, stall = await loop_stalls(_one_node(node).ainvoke({"task": "x"}, CONFIG))
    if answer is NESTED:
        assert isinstance(state, OutputValidationError), state
        assert state.attempts[-1].errors == ("(answer): the JSON nests deeper than 100 levels",)
    else:
        assert state["runs"]["code"]["output"]["files_changed"] == ["a.py"]
    assert stall < 0.05


def _call(tool: CodegenRunAgentTool, prompt: str) -> ToolMessage:
    call = {"name": tool.name, "args": {"prompt": prompt}, "id": "call-1", "type": "tool_call"}
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    return message


def test_the_run_tool_artifact_carries_the_object() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
    ):
        tool = CodegenRunAgentTool(client=client, output_schema=Change)
        message = _call(tool, "Add a typed /health endpoint")
        stats = local.stats()
    assert isinstance(message.artifact, TypedAgentRunResponse)
    assert isinstance(message.artifact.output, Change)
    assert message.artifact.output_attempts == 3
    assert "Validated Change (answer 3): {" in message.content  # the model reads it too
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 2)


async def test_the_async_run_tool_and_a_never_valid_answer() -> None:
    with LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local:
        async with local.async_client() as client:
            tool = CodegenRunAgentTool(async_client=client, output_schema=Change)
            call = {
                "name": tool.name,
                "args": {"prompt": "never valid"},
                "id": "c",
                "type": "tool_call",
            }
            message = await tool.ainvoke(call)
        stats = local.stats()
    assert message.status == "error"
    assert "codegen_get_agent_run" in message.content
    assert "after 3 answer(s)" in message.content
    assert stats["runs_created"] == 1


def test_a_tool_without_schema_keeps_the_plain_artifact() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        message = _call(CodegenRunAgentTool(client=client), "Add a /health endpoint")
    assert not isinstance(message.artifact, TypedAgentRunResponse)
