"""Every resource method, sync and async, against the local backend (in process, and over
real HTTP on 127.0.0.1), where the fake API of the other client tests is not enough."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from codegen_graph import (
    IDEMPOTENCY_METADATA_KEY,
    AsyncCodegenClient,
    AuthenticationError,
    CodegenClient,
    NotFoundError,
    UnprocessableEntityError,
)
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, LocalServer
from codegen_graph.models import (
    AgentRunResponse,
    AgentRunWithLogsResponse,
    OrganizationResponse,
    Page,
    RepoResponse,
    SourceType,
    UserResponse,
)


@pytest.fixture
def local() -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=ManualClock()) as backend:
        yield backend


@pytest.fixture
def client(local: LocalCodegen) -> Iterator[CodegenClient]:
    with local.client() as c:
        yield c


@pytest.fixture
async def aclient(local: LocalCodegen) -> AsyncIterator[AsyncCodegenClient]:
    async with local.async_client() as c:
        yield c


def _finish(client: CodegenClient, run_id: int) -> AgentRunResponse:
    return client.agent_runs.attach(run_id).wait(timeout=3600).data


def test_sync_agent_run_methods(client: CodegenClient, local: LocalCodegen) -> None:
    runs = client.agent_runs
    created = runs.create("Add a /health endpoint", metadata={"ticket": "T-1"}, repo_id=1)
    assert created.status == "PENDING" and created.source_type == SourceType.API
    assert created.metadata is not None and created.metadata["ticket"] == "T-1"
    assert IDEMPOTENCY_METADATA_KEY in created.metadata
    assert runs.get(created.id).id == created.id
    second = runs.create("Write the docs", idempotency_key="docs-1")
    page = runs.list(limit=1)
    assert isinstance(page, Page) and page.items[0].id == second.id  # newest first
    assert page.total == 2 and page.pages == 2
    assert [r.id for r in runs.iter(page_size=1)] == [second.id, created.id]
    assert runs.list(source_type=SourceType.API).total == 2
    assert runs.find_by_idempotency_key("docs-1") is not None
    assert runs.find_by_idempotency_key("nope") is None

    done = _finish(client, created.id)
    assert done.status == "COMPLETE" and done.github_pull_requests
    logs = runs.logs(created.id, limit=2)
    assert isinstance(logs, AgentRunWithLogsResponse) and len(logs.logs) == 2
    newest = runs.logs(created.id, limit=1, reverse=True).logs[0]
    assert newest.message_type == "FINAL_ANSWER"
    everything = list(runs.iter_logs(created.id, page_size=2))
    assert len(everything) == logs.total_logs

    resumed = runs.resume(created.id, "Also add a /ready endpoint")
    assert resumed.status in {"ACTIVE", "RUNNING", "PENDING"}
    assert [e.message_type for e in runs.iter_logs(created.id)].count("USER_MESSAGE") == 1

    fresh = runs.create("Implement something long")
    runs.ban(fresh.id)
    runs.unban(fresh.id)
    runs.remove_from_pr(fresh.id)
    assert runs.get(fresh.id).status == "STOPPED"  # ban stops a running run
    with pytest.raises(NotFoundError):
        runs.get(999_999)


def test_sync_other_resources(client: CodegenClient, local: LocalCodegen) -> None:
    orgs = client.organizations.list()
    assert isinstance(orgs.items[0], OrganizationResponse)
    assert orgs.items[0].id == local.org_id
    me = client.users.me()
    assert isinstance(me, UserResponse)
    assert client.users.get(me.id).id == me.id
    assert me.id in [u.id for u in client.users.list().items]
    repos = client.repos.list()
    assert repos.items and isinstance(repos.items[0], RepoResponse)
    with pytest.raises(NotFoundError):
        client.users.get(987_654)


async def test_async_methods(aclient: AsyncCodegenClient, local: LocalCodegen) -> None:
    runs = aclient.agent_runs
    created = await runs.create("Add a /health endpoint")
    assert (await runs.get(created.id)).id == created.id
    assert (await runs.list()).total == 1
    assert [r.id async for r in runs.iter()] == [created.id]
    handle = await runs.attach(created.id)
    await handle.wait(timeout=3600)
    assert len((await runs.logs(created.id)).logs) == len(
        [e async for e in runs.iter_logs(created.id)]
    )
    await runs.resume(created.id, "More, please")
    await runs.ban(created.id)
    await runs.unban(created.id)
    await runs.remove_from_pr(created.id)
    assert (await aclient.organizations.list()).items[0].id == local.org_id
    me = await aclient.users.me()
    assert (await aclient.users.get(me.id)).github_username == me.github_username
    assert (await aclient.users.list()).total >= 1
    assert (await aclient.repos.list()).total >= 1


def test_over_real_http_on_loopback() -> None:
    with LocalServer(time_scale=600) as server:
        assert server._proc is not None
        cmdline = Path(f"/proc/{server._proc.pid}/cmdline").read_bytes()
        assert server.token.encode() not in cmdline  # other users can read command lines
        with CodegenClient(server.token, server.org_id, base_url=server.base_url) as client:
            run = client.agent_runs.create_and_wait("Add a /health endpoint", timeout=600)
            assert run.is_success
            assert client.agent_runs.list().items[0].id == run.id
            with pytest.raises(UnprocessableEntityError) as info:
                client.agent_runs.create("x" * 100_001)
            assert info.value.detail  # FastAPI's HTTPValidationError detail list
        bad = CodegenClient("not-the-token", server.org_id, base_url=server.base_url)
        with bad, pytest.raises(AuthenticationError):
            bad.agent_runs.list()
