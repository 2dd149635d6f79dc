"""Codegen errors become error ToolMessages a model can act on; the agent loop goes on.

Every error here is real: produced by the local backend (quota, unknown ids, a rate-limit
storm, a wrong token or org, injected 5xx and timeouts, a failing scenario, a too-long
prompt) or by the client's own argument checks, never raised by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from pydantic import ValidationError

from codegen_graph import (
    AgentRunFailedError,
    AgentRunLimitReachedError,
    APITimeoutError,
    AsyncCodegenClient,
    AuthenticationError,
    CodegenClient,
    CodegenError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunTimeoutError,
    ServerError,
    UnprocessableEntityError,
)
from codegen_graph.clock import ManualClock
from codegen_graph.local import MAX_PROMPT_CHARS, LocalCodegen
from codegen_graph.tools import CodegenListReposTool, CodegenToolError, CodegenToolkit

from ._scenarios import TESTS_FAIL_ONCE
from ._scripted_model import ScriptedToolModel, call, last_tool_message


@dataclass
class Case:
    tool: str
    args: dict[str, Any]
    error: type[CodegenError]
    says: list[str]
    backend: dict[str, Any] = field(default_factory=dict)
    token: str | None = None  # None: the backend's own token
    org_offset: int = 0


CASES = {
    "quota-402": Case(
        "codegen_run_agent",
        {"prompt": "Add a /health endpoint"},
        AgentRunLimitReachedError,
        ["quota (HTTP 402)", "Do not retry"],
        backend={"quota": 0},
    ),
    "unknown-run-404": Case(
        "codegen_get_agent_run",
        {"agent_run_id": 999_999},
        NotFoundError,
        ["no agent run 999999", "codegen_list_agent_runs"],
    ),
    "unknown-run-resume-404": Case(
        "codegen_resume_agent_run",
        {"agent_run_id": 999_999, "prompt": "continue"},
        NotFoundError,
        ["no agent run 999999", "codegen_list_agent_runs"],
    ),
    "unknown-run-stop-404": Case(
        "codegen_stop_agent_run",
        {"agent_run_id": 999_999},
        NotFoundError,
        ["no agent run 999999", "codegen_list_agent_runs"],
    ),
    "stop-rate-limited-429": Case(
        "codegen_stop_agent_run",
        {"agent_run_id": 1},
        RateLimitError,
        ["Rate limited", "Retry this call in about 100 seconds"],
        backend={"faults": {"ban": {"storms": [[0, 100]]}}},
    ),
    "unknown-repo-404": Case(
        "codegen_run_agent",
        {"prompt": "Add a /health endpoint", "repo_id": 77},
        NotFoundError,
        ["no repository 77", "codegen_list_repos"],
    ),
    "rate-limited-429": Case(
        "codegen_list_agent_runs",
        {},
        RateLimitError,
        ["Rate limited", "Retry this call in about 100 seconds"],
        backend={"faults": {"list": {"storms": [[0, 100]]}}},
    ),
    "bad-token-401": Case(
        "codegen_list_repos",
        {},
        AuthenticationError,
        ["token was rejected (HTTP 401)", "tell the user"],
        token="cg-local-not-the-right-token",
    ),
    "other-org-403": Case(
        "codegen_list_agent_runs",
        {},
        PermissionDeniedError,
        ["no access", "HTTP 403", "CODEGEN_ORG_ID"],
        org_offset=1,
    ),
    "prompt-too-long-422": Case(
        "codegen_run_agent",
        {"prompt": "x" * (MAX_PROMPT_CHARS + 1)},
        UnprocessableEntityError,
        ["HTTP 422", "prompt:", "Fix that argument"],
    ),
    "blank-prompt-config": Case(
        "codegen_run_agent",
        {"prompt": "   "},
        ConfigurationError,
        ["Invalid argument for codegen_run_agent", "prompt must be a non-empty string"],
    ),
    "server-error-503": Case(
        "codegen_get_agent_run_logs",
        {"agent_run_id": 1},
        ServerError,
        ["unavailable", "HTTP 503", "Retry this call"],
        backend={"faults": {"logs": {"error_rate": 1.0, "error_status": 503}}},
    ),
    "no-answer-timeout": Case(
        "codegen_list_repos",
        {},
        APITimeoutError,
        ["unavailable", "Retry this call"],
        backend={"faults": {"repos": {"timeout_rate": 1.0}}},
    ),
    "wait-timed-out": Case(
        "codegen_run_agent",
        {"prompt": "Add a /health endpoint", "timeout": 5},
        RunTimeoutError,
        ["the wait timed out, but the run goes on", "codegen_get_agent_run with agent_run_id="],
    ),
    "run-failed": Case(
        "codegen_run_agent",
        {"prompt": "Run the tests"},
        AgentRunFailedError,
        ["ended FAILED", "test_health_returns_ok", "codegen_resume_agent_run with agent_run_id="],
        backend={"scenario": TESTS_FAIL_ONCE},
    ),
}


@contextmanager
def _tools(case: Case) -> Iterator[tuple[LocalCodegen, dict[str, Any]]]:
    with ExitStack() as stack:
        local = stack.enter_context(LocalCodegen(clock=ManualClock(), **case.backend))
        common: dict[str, Any] = {
            "base_url": local.base_url,
            "clock": local.clock,
            "max_retries": 0,
        }
        token, org = case.token or local.token, local.org_id + case.org_offset
        client = stack.enter_context(
            CodegenClient(token, org, transport=local.transport(), **common)
        )
        aclient = AsyncCodegenClient(token, org, transport=local.async_transport(), **common)
        tools = CodegenToolkit(client=client, async_client=aclient).get_tools()
        yield local, {t.name: t for t in tools}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", list(CASES))
async def test_error_becomes_an_error_tool_message(name: str, mode: str) -> None:
    case = CASES[name]
    with _tools(case) as (local, tools):
        tool = tools[case.tool]
        tool_call = ToolCall(name=case.tool, args=case.args, id="call_1", type="tool_call")
        message = tool.invoke(tool_call) if mode == "sync" else await tool.ainvoke(tool_call)
        assert isinstance(message, ToolMessage)
        assert message.status == "error", message.content
        assert message.tool_call_id == "call_1" and message.name == case.tool
        for phrase in case.says:
            assert phrase in message.content, (phrase, message.content)
        assert local.token not in message.content
        assert case.token is None or case.token not in message.content


@pytest.mark.parametrize("name", list(CASES))
def test_the_original_error_is_kept(name: str) -> None:
    """With handle_tool_error=False the CodegenToolError raises, chaining the real error."""
    case = CASES[name]
    with _tools(case) as (_local, tools):
        tool = tools[case.tool]
        tool.handle_tool_error = False
        with pytest.raises(CodegenToolError) as info:
            tool.invoke(case.args)
        assert isinstance(info.value.error, case.error)
        assert info.value.__cause__ is info.value.error


def test_rate_limit_without_a_hint_still_says_when() -> None:
    from codegen_graph.tools._errors import describe_error

    exc = RateLimitError("slow down", status_code=429, retry_after=None)
    assert "about a minute" in describe_error(exc, "codegen_list_repos", {})


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_bad_arguments_name_the_argument(mode: str, client: CodegenClient) -> None:
    tool = CodegenToolkit(client=client).get_tools()[0]
    tool_call = ToolCall(
        name=tool.name, args={"prompt": "x", "timeout": -5}, id="c", type="tool_call"
    )
    message = tool.invoke(tool_call) if mode == "sync" else await tool.ainvoke(tool_call)
    assert message.status == "error"
    assert message.content.startswith("Invalid arguments: timeout: Input should be greater than 0")


def test_bad_arguments_raise_when_validation_handling_is_off(client: CodegenClient) -> None:
    tool = CodegenToolkit(client=client).get_tools()[0]
    tool.handle_validation_error = False
    with pytest.raises(ValidationError):
        tool.invoke({"prompt": "x", "unexpected": 1})


def _broken_work(tool: Any, client: CodegenClient, params: Any, on_log: Any) -> Any:
    return {}["missing"]  # a bug, not an API error


async def _broken_async_work(
    tool: Any, client: AsyncCodegenClient, params: Any, on_log: Any
) -> Any:
    raise TypeError("a bug, not an API error")


class _Broken(CodegenListReposTool):
    _work = _broken_work
    _awork = _broken_async_work


async def test_programming_errors_still_raise(client: CodegenClient) -> None:
    tool = _Broken(client=client)
    with pytest.raises(KeyError):
        tool.invoke(ToolCall(name=tool.name, args={}, id="c", type="tool_call"))
    with pytest.raises(KeyError):  # ainvoke with only a sync client: the same bug, in a thread
        await tool.ainvoke(ToolCall(name=tool.name, args={}, id="c", type="tool_call"))


def _resume_failed(messages: list[BaseMessage]) -> AIMessage:
    failed = last_tool_message(messages)
    assert failed.status == "error"
    found = re.search(r"agent_run_id=(\d+)", str(failed.content))
    assert found, failed.content
    return call(
        "codegen_resume_agent_run",
        agent_run_id=int(found.group(1)),
        prompt="test_health_returns_ok fails: fix the handler, then run the tests again.",
    )


def test_agent_loop_goes_on_after_errors() -> None:
    """404, then a failed run: both come back as error messages and the model recovers."""
    with LocalCodegen(clock=ManualClock(), scenario=TESTS_FAIL_ONCE) as local:
        model = ScriptedToolModel(
            steps=[
                call("codegen_get_agent_run", agent_run_id=31337),
                call("codegen_run_agent", prompt="Run the tests"),
                _resume_failed,
                AIMessage("All tests pass now."),
            ]
        )
        with local.client() as client:
            agent = create_agent(model, CodegenToolkit(client=client).get_tools())
            result = agent.invoke({"messages": [("user", "Make the tests pass")]})
        tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
        assert [m.status for m in tool_messages] == ["error", "error", "success"]
        assert "no agent run 31337" in tool_messages[0].content
        assert "ended FAILED" in tool_messages[1].content
        assert tool_messages[2].artifact.result == "Test report: 12 passed, 0 failed."
        assert result["messages"][-1].content == "All tests pass now."
        stats = local.stats()
        assert (stats["runs_created"], stats["runs_resumed"]) == (1, 1)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_raise_on_failure_false_reports_a_failed_run_with_its_artifact(mode: str) -> None:
    """With raise_on_failure=False a FAILED run is a normal result carrying the run."""
    with _tools(CASES["run-failed"]) as (_, tools):
        run_tool = tools["codegen_run_agent"].model_copy(update={"raise_on_failure": False})
        tool_call = ToolCall(
            name="codegen_run_agent", args={"prompt": "Run the tests"}, id="c1", type="tool_call"
        )
        message = (
            run_tool.invoke(tool_call) if mode == "sync" else await run_tool.ainvoke(tool_call)
        )
        assert message.status == "success"
        assert message.artifact.status == "FAILED"
        assert f"Agent run {message.artifact.id}: FAILED." in message.content
        assert "codegen_resume_agent_run" in message.content
        resume = tools["codegen_resume_agent_run"].model_copy(update={"raise_on_failure": False})
        again = resume.invoke(
            ToolCall(
                name="codegen_resume_agent_run",
                args={"agent_run_id": message.artifact.id, "prompt": "Run the tests again"},
                id="c2",
                type="tool_call",
            )
        )
        assert again.status == "success" and again.artifact.status == "COMPLETE"
