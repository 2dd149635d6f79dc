"""Every resource method, sync and async, against the fake API."""

from __future__ import annotations

import pytest

from codegen_graph import (
    IDEMPOTENCY_METADATA_KEY,
    AsyncCodegenClient,
    CodegenClient,
    ConfigurationError,
    NotFoundError,
)
from codegen_graph.models import AgentRunResponse, Page, SourceType

from ._fake_api import ORG_ID, FakeCodegenAPI


class TestAgentRuns:
    def test_create_sends_spec_body_and_idempotency_key(
        self, client: CodegenClient, api: FakeCodegenAPI
    ) -> None:
        run = client.agent_runs.create(
            "Add a /health endpoint", metadata={"ticket": "T-1"}, repo_id=11, agent_type="codegen"
        )
        assert isinstance(run, AgentRunResponse)
        assert run.status == "PENDING"
        assert run.organization_id == ORG_ID
        sent = api.requests[-1]
        assert (sent.method, sent.path) == ("POST", f"/v1/organizations/{ORG_ID}/agent/run")
        assert sent.body["prompt"] == "Add a /health endpoint"
        assert sent.body["repo_id"] == 11
        assert sent.body["agent_type"] == "codegen"
        assert sent.body["metadata"]["ticket"] == "T-1"
        assert len(sent.body["metadata"][IDEMPOTENCY_METADATA_KEY]) == 32
        assert "images" not in sent.body  # None fields are not sent

    def test_create_uses_callers_key(self, client: CodegenClient, api: FakeCodegenAPI) -> None:
        run = client.agent_runs.create("x", idempotency_key="job-42")
        assert run.metadata == {IDEMPOTENCY_METADATA_KEY: "job-42"}

    def test_get_list_iter(self, client: CodegenClient, api: FakeCodegenAPI) -> None:
        for i in range(7):
            api.add_run(source_type="SLACK" if i % 2 else "API")
        newest = max(api.runs)
        assert client.agent_runs.get(newest).id == newest
        page = client.agent_runs.list(limit=3, skip=1)
        assert isinstance(page, Page)
        assert page.total == 7
        assert [r.id for r in page.items] == [newest - 1, newest - 2, newest - 3]
        assert api.requests[-1].params == {"skip": "1", "limit": "3"}
        ids = [r.id for r in client.agent_runs.iter(page_size=2)]
        assert ids == sorted(api.runs, reverse=True)
        assert api.count("GET", r"/agent/runs$") == 1 + 4
        slack = list(client.agent_runs.iter(source_type=SourceType.SLACK))
        assert len(slack) == 3
        assert api.requests[-1].params["source_type"] == "SLACK"

    def test_resume_logs_iter_logs(self, client: CodegenClient, api: FakeCodegenAPI) -> None:
        run = api.add_run(status="COMPLETE")
        resumed = client.agent_runs.resume(run["id"], "Also add tests")
        assert resumed.status == "RUNNING"
        assert api.requests[-1].body == {"agent_run_id": run["id"], "prompt": "Also add tests"}
        logs = client.agent_runs.logs(run["id"], limit=2, reverse=True)
        assert logs.total_logs == 5
        assert [e.thought for e in logs.logs] == ["step 4", "step 3"]
        assert api.requests[-1].path.startswith("/v1/alpha/")
        assert api.requests[-1].params == {"skip": "0", "limit": "2", "reverse": "true"}
        thoughts = [e.thought for e in client.agent_runs.iter_logs(run["id"], page_size=2)]
        assert thoughts == [f"step {i}" for i in range(5)]

    def test_ban_unban_remove_from_pr(self, client: CodegenClient, api: FakeCodegenAPI) -> None:
        run = api.add_run()
        assert client.agent_runs.ban(run["id"]) is None
        assert client.agent_runs.unban(run["id"]) is None
        assert client.agent_runs.remove_from_pr(run["id"]) is None
        paths = [r.path.rsplit("/", 1)[-1] for r in api.requests[-3:]]
        assert paths == ["ban", "unban", "remove-from-pr"]
        assert api.requests[-1].body == {"agent_run_id": run["id"]}
        with pytest.raises(NotFoundError):
            client.agent_runs.ban(999)

    @pytest.mark.parametrize(
        "call",
        [
            lambda c: c.agent_runs.create(""),
            lambda c: c.agent_runs.create("   "),
            lambda c: c.agent_runs.create("x", agent_type="gpt"),
            lambda c: c.agent_runs.create("x", repo_id=0),
            lambda c: c.agent_runs.create(
                "x", metadata={IDEMPOTENCY_METADATA_KEY: "a"}, idempotency_key="b"
            ),
            lambda c: c.agent_runs.get(0),
            lambda c: c.agent_runs.get(-3),
            lambda c: c.agent_runs.get(True),
            lambda c: c.agent_runs.list(limit=0),
            lambda c: c.agent_runs.list(limit=101),
            lambda c: c.agent_runs.list(skip=-1),
            lambda c: c.agent_runs.iter(page_size=500),
            lambda c: c.agent_runs.resume(1, ""),
            lambda c: c.agent_runs.logs(1, limit=1000),
            lambda c: c.agent_runs.iter_logs(0),
            lambda c: c.users.get(0),
            lambda c: c.users.list(limit=0),
            lambda c: c.repos.list(skip=-5),
            lambda c: c.organizations.list(limit=200),
        ],
    )
    def test_bad_arguments_fail_before_any_request(
        self, client: CodegenClient, api: FakeCodegenAPI, call: object
    ) -> None:
        with pytest.raises(ConfigurationError) as info:
            call(client)  # type: ignore[operator]
        assert isinstance(info.value, ValueError)
        assert api.requests == []


def test_organizations_users_repos(client: CodegenClient, api: FakeCodegenAPI) -> None:
    orgs = client.organizations.list()
    assert orgs.items[0].id == ORG_ID
    assert orgs.items[0].settings.enable_pr_creation
    assert client.users.me().github_username == "dev1"
    users = client.users.list(skip=1, limit=1)
    assert [u.id for u in users.items] == [2]
    assert users.total == 3
    assert client.users.get(3).id == 3
    with pytest.raises(NotFoundError, match="User not found"):
        client.users.get(9)
    assert client.repos.list().items[0].full_name == "acme/app"
    assert {r.path for r in api.requests} >= {
        "/v1/organizations",
        "/v1/users/me",
        f"/v1/organizations/{ORG_ID}/users",
        f"/v1/organizations/{ORG_ID}/users/3",
        f"/v1/organizations/{ORG_ID}/repos",
    }


async def test_async_agent_runs(aclient: AsyncCodegenClient, api: FakeCodegenAPI) -> None:
    run = await aclient.agent_runs.create("async prompt", images=["data:image/png;base64,AA=="])
    assert api.requests[-1].body["images"] == ["data:image/png;base64,AA=="]
    assert (await aclient.agent_runs.get(run.id)).id == run.id
    for _ in range(4):
        api.add_run()
    page = await aclient.agent_runs.list(limit=2)
    assert len(page.items) == 2
    assert page.total == 5
    ids = [r.id async for r in aclient.agent_runs.iter(page_size=2)]
    assert ids == sorted(api.runs, reverse=True)
    resumed = await aclient.agent_runs.resume(run.id, "more")
    assert resumed.status == "RUNNING"
    logs = await aclient.agent_runs.logs(run.id, skip=3)
    assert [e.thought for e in logs.logs] == ["step 3", "step 4"]
    entries = [
        e.thought async for e in aclient.agent_runs.iter_logs(run.id, reverse=True, page_size=3)
    ]
    assert entries == [f"step {i}" for i in (4, 3, 2, 1, 0)]
    assert await aclient.agent_runs.ban(run.id) is None
    assert await aclient.agent_runs.unban(run.id) is None
    assert await aclient.agent_runs.remove_from_pr(run.id) is None
    with pytest.raises(ConfigurationError):
        await aclient.agent_runs.create("")


async def test_async_organizations_users_repos(aclient: AsyncCodegenClient) -> None:
    assert (await aclient.organizations.list(limit=1)).items[0].name == "Acme"
    assert (await aclient.users.me()).id == 1
    assert (await aclient.users.list()).total == 3
    assert (await aclient.users.get(2)).github_username == "dev2"
    assert (await aclient.repos.list()).items[0].id == 11


def test_client_attributes_and_context_manager(api: FakeCodegenAPI) -> None:
    from ._fake_api import TOKEN

    with CodegenClient(TOKEN, ORG_ID, transport=api.transport(), rate_limits=False) as c:
        assert c.org_id == ORG_ID
        assert c.base_url == "https://api.codegen.com"
        assert c.circuit.state == "closed"
        assert not c.rate_budgets.enabled
        c.users.me()
    assert c._http.is_closed


async def test_async_context_manager_and_own_http_client(api: FakeCodegenAPI) -> None:
    import httpx

    from ._fake_api import TOKEN

    own = httpx.AsyncClient(transport=api.transport())
    async with AsyncCodegenClient(TOKEN, str(ORG_ID), http_client=own) as c:
        assert (await c.users.me()).id == 1
    assert not own.is_closed  # the caller's client stays the caller's to close
    await own.aclose()
