"""``codegen_graph.compat``: the SDK's ``Agent`` and ``AgentTask``, on our client."""

from __future__ import annotations

import asyncio
import logging

import pytest

from codegen_graph import (
    AgentRun,
    AgentRunStatus,
    AuthenticationError,
    CodegenClient,
    ConfigurationError,
)
from codegen_graph.clock import ManualClock
from codegen_graph.compat import Agent, AgentTask
from codegen_graph.local import LocalCodegen, LocalServer, Outcome, RunContext

from .conftest import ORG, TOKEN


class Fails:
    """Every run ends FAILED after a simulated minute."""

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(status="FAILED", result="the sandbox ran out of disk", duration=60.0)


def test_the_sdk_surface_against_serve(sdk_env: LocalServer) -> None:
    agent = Agent(TOKEN, org_id=ORG, base_url=sdk_env.base_url)
    assert (agent.token, agent.org_id, agent.current_job) == (TOKEN, ORG, None)
    assert isinstance(agent.api_client, CodegenClient)
    assert agent.agents_api is agent.api_client.agent_runs
    assert agent.get_status() is None  # no run yet: no request either
    task = agent.run("Add a /health endpoint")
    assert isinstance(task, AgentTask) and agent.current_job is task
    assert isinstance(task.handle, AgentRun) and task.id == task.handle.id > 0
    assert task.org_id == ORG and task.web_url and task.result is None
    assert isinstance(task.status, AgentRunStatus) and not task.status.is_terminal
    status = agent.get_status()
    assert status is not None and set(status) == {"id", "status", "result", "web_url"}
    assert status["id"] == task.id
    agent.close()


def test_org_and_token_come_from_the_environment_like_the_sdk(sdk_env: LocalServer) -> None:
    agent = Agent(None)
    assert agent.token is None and agent.org_id == ORG
    assert agent.run("Document the API").id > 0
    assert Agent(None, org_id=str(ORG)).org_id == ORG  # the SDK's README passes a string


def test_no_org_is_an_error_not_organisation_1(
    sdk_env: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEGEN_ORG_ID")
    with pytest.raises(ConfigurationError, match="CODEGEN_ORG_ID"):
        Agent(TOKEN)


def test_a_wrong_token_is_a_typed_error_without_the_token(sdk_env: LocalServer) -> None:
    agent = Agent("wrong-token-5c7e", org_id=ORG)
    with pytest.raises(AuthenticationError) as caught:
        agent.run("Add a /health endpoint")
    assert "wrong-token-5c7e" not in str(caught.value) and agent.current_job is None


def test_the_status_ends_the_sdk_docs_loop_and_get_status_follows() -> None:
    clock = ManualClock()
    with LocalCodegen(clock=clock) as local:
        agent = Agent(client=local.client())
        task = agent.run("Add a /health endpoint")
        polls = 0
        while task.status != "completed":  # the SDK docs' loop; the API says COMPLETE
            clock.advance(5)
            task.refresh()
            polls += 1
            assert polls < 100
        assert task.status == "COMPLETE" and task.status.raw == "COMPLETE"
        assert task.status in ("completed", "failed") and task.result
        status = agent.get_status()
        assert status is not None and status["status"] == "completed"
        assert (status["id"], status["result"], status["web_url"]) == (
            task.id,
            task.result,
            task.web_url,
        )
        assert repr(task) == f"AgentTask(id={task.id}, org_id={local.org_id}, status='COMPLETE')"


def test_reprs_never_show_the_token() -> None:
    with LocalCodegen(clock=ManualClock(), token="canary-tok-31f9") as local:
        agent = Agent(client=local.client())
        assert "canary-tok-31f9" not in repr(agent)
        agent.run("Add a /health endpoint")
        assert repr(agent).startswith(f"Agent(org_id={local.org_id}, current_job=AgentTask(")
        assert "canary-tok-31f9" not in repr(agent) + repr(agent.current_job)
    server = Agent("canary-tok-77aa", org_id=5, base_url="http://127.0.0.1:9")
    assert "canary-tok-77aa" not in repr(server) and server.token == "canary-tok-77aa"
    server.close()


@pytest.mark.parametrize("prompt", ["", "   ", None, 42])
def test_a_bad_prompt_is_a_clear_error_and_sends_nothing(prompt: object) -> None:
    with LocalCodegen(clock=ManualClock()) as local:
        agent = Agent(client=local.client())
        with pytest.raises(ConfigurationError, match="prompt must be a non-empty string"):
            agent.run(prompt)  # type: ignore[arg-type]
        assert agent.current_job is None and agent.get_status() is None
        assert local.stats()["runs_created"] == 0


def test_client_or_connection_arguments_not_both() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        with pytest.raises(ConfigurationError, match="either the client or those three"):
            Agent("tok", client=client)
        async_client = local.async_client()
        with pytest.raises(ConfigurationError, match="needs a codegen_graph"):
            Agent(client=async_client)  # type: ignore[arg-type]
        asyncio.run(async_client.aclose())
        agent = Agent(client=client)
        agent.close()  # not ours to close: the client still works
        assert client.agent_runs.create("still open").id > 0


def test_a_failed_run_says_once_that_it_will_not_complete(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    with LocalCodegen(clock=clock, behavior=Fails()) as local:
        task = Agent(client=local.client()).run("Add a /health endpoint")
        clock.advance(120)
        with caplog.at_level(logging.WARNING, logger="codegen_graph.compat"):
            task.refresh()
            task.refresh()
        assert task.status == "failed" and task.status != "completed"
        assert [r.getMessage() for r in caplog.records] == [
            f"agent run {task.id} ended FAILED; it will not become completed"
        ]
