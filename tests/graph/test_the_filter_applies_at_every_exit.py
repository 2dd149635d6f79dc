"""An ``OutputFilter`` on the client cleans every answer read through it: the run handle,
the tools' content and artifacts, the supervisor's messages, state and checkpoints.

Issue 21: the filter covered graph nodes only; a ``ghp_...`` token in an agent's answer
reached the supervisor's model.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from codegen_graph.clock import ManualClock
from codegen_graph.graph import supervisor_workflow
from codegen_graph.local import LocalCodegen, Outcome, RunContext, Step
from codegen_graph.plugins import OutputFilter
from codegen_graph.tools import CodegenRunAgentTool

from ._scripted import ScriptedSupervisor, calls, tool_call

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "a `ghp_...` token in an agent's answer, summary and log is redacted by an "
    "`OutputFilter` on the client in the run handle, the async handle, the tool's content "
    "and artifact, and the supervisor's messages, state, checkpoints and what its model "
    "read"
)
TRUST_ALSO = (
    "tests/coordination/test_coordination.py::test_a_follower_filters_what_the_leader_read_for_it",
)

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


class Leaky:
    """An agent that prints a GitHub token in its answer, summary and log."""

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(
            status="COMPLETE",
            result=f"Done. I used the token {SECRET} to push.",
            summary=f"pushed with {SECRET}",
            steps=(
                Step("ACTION", tool_name="shell", tool_output={"stdout": f"export T={SECRET}"}),
            ),
            duration=30.0,
        )


def backend() -> LocalCodegen:
    return LocalCodegen(clock=ManualClock(), behavior=Leaky())


def test_the_run_handle_and_its_log_are_filtered() -> None:
    with backend() as local, local.client(plugins=[OutputFilter()]) as client:
        run = client.agent_runs.create_and_wait("Push the fix")
        assert SECRET not in (run.result or "") and "[REDACTED]" in (run.result or "")
        assert SECRET not in (run.summary or "")
        assert SECRET not in json.dumps([e.model_dump(mode="json") for e in run.logs()])
        assert SECRET not in client.agent_runs.get(run.id).model_dump_json()


async def test_the_async_handle_is_filtered() -> None:
    with backend() as local:
        async with local.async_client(plugins=[OutputFilter()]) as client:
            run = await client.agent_runs.create_and_wait("Push the fix")
            assert SECRET not in (run.result or "")


def test_the_tools_content_and_artifact_are_filtered() -> None:
    with backend() as local, local.client(plugins=[OutputFilter()]) as client:
        tool = CodegenRunAgentTool(client=client)
        message = tool.invoke(tool_call("codegen_run_agent", prompt="Push the fix"))
        assert isinstance(message, ToolMessage)
        assert SECRET not in str(message.content) and SECRET not in repr(message.artifact)


def test_the_supervisors_messages_state_and_checkpoints_are_filtered() -> None:
    model = ScriptedSupervisor(
        steps=[calls(tool_call("codegen_run_agent", role="code", prompt="Push the fix")), calls()]
    )
    saver = InMemorySaver()
    with backend() as local, local.client(plugins=[OutputFilter()]) as client:
        graph = supervisor_workflow(model=model, client=client).compile(checkpointer=saver)
        config: Any = {"configurable": {"thread_id": "s1"}}
        state = graph.invoke({"task": "Push the fix"}, config)
    assert any("[REDACTED]" in str(m.content) for m in state["messages"])
    seen_by_model = "".join(str(m.content) for t in model.transcripts for m in t)
    assert SECRET not in seen_by_model
    assert SECRET not in repr(state)
    for checkpoint in saver.list(config):
        assert SECRET not in repr(checkpoint.checkpoint["channel_values"])
