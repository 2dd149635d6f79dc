"""A typed answer's repairs are waited for under the caller's one deadline, whichever way
the caller waits: ``wait()``, ``follow()`` or the ``codegen_run_agent`` tool.

``codegen_run_agent`` with a ``result_schema`` followed the run with its ``timeout``, then
gave the whole ``timeout`` again to a ``wait()`` for the repairs (a 1,000 s tool call ran
1,640 s), and the repairs' log entries never reached the tool's progress. ``follow()`` now
takes ``output_schema`` like ``wait()``; both end in one repair driver on the handle.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import BaseModel, Field

from codegen_graph import RunTimeoutError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.models import AgentRunLogResponse
from codegen_graph.tools import CodegenRunAgentTool


class Outcome(BaseModel):
    files: list[str] = Field(min_length=1)
    done_at: datetime


def _local() -> LocalCodegen:
    return LocalCodegen(clock=ManualClock(), scenario="typed_output_repair")


def test_follow_hands_over_the_repairs_entries_and_checks_the_answer() -> None:
    seen: list[AgentRunLogResponse] = []
    with _local() as local, local.client() as client:
        run = client.agent_runs.start("Add a typed /health endpoint")
        run.follow(seen.append, output_schema=Outcome)
        every = run.logs()
        resumed = local.stats()["runs_resumed"]
    assert isinstance(run.output, Outcome)
    assert [a.number for a in run.output_attempts] == [1, 2]
    assert resumed == 2
    assert seen == every  # the repairs' entries too, each once, in order


async def test_async_follow_keeps_one_deadline_across_the_repairs() -> None:
    with _local() as local:
        async with local.async_client() as client:
            run = await client.agent_runs.start("Add a typed /health endpoint")
            started = local.clock.now()
            with pytest.raises(RunTimeoutError):
                await run.follow(lambda entry: None, timeout=70, output_schema=Outcome)
            assert local.clock.now() - started <= 70 + 1


def test_the_tool_keeps_its_timeout_across_the_repairs() -> None:
    with _local() as local, local.client() as client:
        tool = CodegenRunAgentTool(client=client, output_schema=Outcome)
        started = local.clock.now()
        answer = tool.invoke({"prompt": "Add a typed /health endpoint", "timeout": 70})
        waited = local.clock.now() - started
    assert "timed out" in str(answer)
    assert waited <= 70 + 1, waited  # it used to wait up to twice as long


def test_the_tool_returns_the_typed_answer_after_its_repairs() -> None:
    with _local() as local, local.client() as client:
        tool = CodegenRunAgentTool(client=client, output_schema=Outcome)
        message = tool.invoke(
            {
                "type": "tool_call",
                "id": "call-1",
                "name": tool.name,
                "args": {"prompt": "Add a typed /health endpoint"},
            }
        )
    assert isinstance(message.artifact.output, Outcome)
    assert message.artifact.output_attempts == 3  # the third answer validated


def test_a_role_tool_checks_the_answer_as_the_plain_tool_does() -> None:
    """The supervisor's delegation tool took ``output_schema`` and ignored it: no schema
    instructions in the prompt, no check, no repair, an untyped artifact."""
    from codegen_graph.tools import RoleRunAgentTool

    with _local() as local, local.client() as client:
        tool = RoleRunAgentTool(
            roles={"coder": "Write the code."}, client=client, output_schema=Outcome
        )
        call = {"prompt": "Add a typed /health endpoint", "role": "coder"}
        message = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": call})
        stored = local.store.get_run(message.artifact.id)
    assert isinstance(message.artifact.output, Outcome)
    assert message.artifact.output_attempts == 3
    assert stored is not None
    prompt = str(stored["prompts"][0])
    assert prompt.startswith("Add a typed /health endpoint\n\nYour role: Write the code.")
    assert "json-schema" in prompt  # the schema's instructions follow the role


def test_a_typed_wait_checks_its_timeout_before_any_arithmetic() -> None:
    from fractions import Fraction

    from codegen_graph import ConfigurationError

    with _local() as local, local.client() as client:
        run = client.agent_runs.start("Add a typed /health endpoint")
        with pytest.raises(ConfigurationError, match="timeout must be"):
            run.wait(timeout="600", output_schema=Outcome)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="timeout must be"):
            run.follow(lambda entry: None, timeout="600", output_schema=Outcome)  # type: ignore[arg-type]
        run.follow(lambda entry: None, timeout=Fraction(900), output_schema=Outcome)  # type: ignore[arg-type]
    assert isinstance(run.output, Outcome)
