"""The local backend keeps the state the spec's routes imply: check-suite settings persist, a
pull request edit changes the PR its run lists, revoking OAuth tokens makes them fail (401),
setup-commands runs hold generated commands, and sandbox log analysis is deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codegen_graph import (
    AsyncCodegenClient,
    AuthenticationError,
    CodegenClient,
    ConfigurationError,
    RateLimitError,
)
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, LocalServer
from codegen_graph.models import SourceType


@pytest.fixture
def local() -> Iterator[LocalCodegen]:
    with LocalCodegen("tok-a", 42, clock=ManualClock(), rate_limits=False) as backend:
        yield backend


@pytest.fixture
def client(local: LocalCodegen) -> Iterator[CodegenClient]:
    with local.client() as c:
        yield c


def _client_with(local: LocalCodegen, token: str) -> CodegenClient:
    return CodegenClient(token, local.org_id, transport=local.transport(), clock=local.clock)


def _finished_pr(local: LocalCodegen, client: CodegenClient, repo_id: int | None = 1) -> tuple:
    run = client.agent_runs.create("Add a /health endpoint", repo_id=repo_id)
    local.clock.advance(3600)  # type: ignore[attr-defined]
    prs = client.agent_runs.get(run.id).github_pull_requests or []
    return run.id, prs[0].id


async def test_check_suite_settings_persist(local: LocalCodegen, client: CodegenClient) -> None:
    assert client.repos.check_suite_settings(1).check_retry_count == 3
    answer = client.repos.update_check_suite_settings(
        1, check_retry_count=5, custom_prompts={"ci / tests": "Fix the test, not the assertion."}
    )
    assert answer["check_retry_count"] == 5
    client.repos.update_check_suite_settings(1, ignored_checks=["ci / lint"])  # the rest stays
    async with local.async_client() as aclient:
        seen = await aclient.repos.check_suite_settings(1)
    assert (seen.check_retry_count, seen.ignored_checks) == (5, ["ci / lint"])
    assert seen.custom_prompts == {"ci / tests": "Fix the test, not the assertion."}
    assert client.repos.check_suite_settings(2).check_retry_count == 3  # per repository
    with pytest.raises(ConfigurationError, match="less than or equal to 10"):
        client.repos.update_check_suite_settings(1, check_retry_count=11)


def test_check_suite_settings_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    with LocalCodegen("tok", 5, db=db, clock=ManualClock()) as first, first.client() as c:
        c.repos.update_check_suite_settings(2, high_priority_apps=["circleci"])
    with LocalCodegen("tok", 5, db=db, clock=ManualClock()) as again, again.client() as c:
        assert c.repos.check_suite_settings(2).high_priority_apps == ["circleci"]


def test_a_pr_edit_changes_the_pr_its_run_lists(local: LocalCodegen, client: CodegenClient) -> None:
    run_id, pr_id = _finished_pr(local, client)
    closed = client.pull_requests.edit(pr_id, state="closed")
    assert closed.success and closed.state == "closed" and closed.number == pr_id
    listed = client.agent_runs.get(run_id).github_pull_requests or []
    assert [(pr.id, pr.model_extra) for pr in listed] == [(pr_id, {"state": "closed"})]
    ready = client.pull_requests.edit_in_repo(1, pr_id, state="ready_for_review")
    assert ready.state == "open"
    page = client.agent_runs.list()
    assert (page.items[0].github_pull_requests or [])[0].model_extra == {"state": "open"}
    wrong_repo = client.pull_requests.edit_in_repo(2, pr_id, state="closed")
    assert (
        not wrong_repo.success
        and wrong_repo.error == f"Pull request {pr_id} not found in repository 2."
    )
    with pytest.raises(ConfigurationError, match="state"):
        client.pull_requests.edit(pr_id, state="merged")  # type: ignore[arg-type]


def test_another_orgs_pr_cannot_be_edited(local: LocalCodegen, client: CodegenClient) -> None:
    run_id, pr_id = _finished_pr(local, client)
    other = local.add_token(org_id=7)
    with CodegenClient(other, 7, transport=local.transport(), clock=local.clock) as c7:
        assert not c7.pull_requests.edit(pr_id, state="closed").success
    assert "state" not in (client.agent_runs.get(run_id).github_pull_requests or [])[0].model_extra


def test_revoking_makes_the_providers_tokens_fail(
    local: LocalCodegen, client: CodegenClient
) -> None:
    github = local.oauth_token("github")
    with _client_with(local, github) as via_github:
        assert via_github.users.me().id == local.user_id  # the same user, through GitHub
        assert client.organizations.oauth_token_status() == ["github"]
        active = {i.integration_type for i in client.integrations.get().integrations if i.active}
        assert active == {"github"}
        answer = client.organizations.revoke_oauth_token(provider="github")
        assert answer == {"success": True, "provider": "github", "revoked_tokens": 1}
        with pytest.raises(AuthenticationError):
            via_github.users.me()
    assert client.organizations.oauth_token_status() == []
    assert client.users.me().id == local.user_id  # the API token was not issued by a provider


def test_a_token_can_revoke_itself(local: LocalCodegen) -> None:
    slack = local.oauth_token("slack")
    with _client_with(local, slack) as c:
        c.organizations.revoke_oauth_token(provider="slack")
        with pytest.raises(AuthenticationError):
            c.organizations.oauth_token_status()


async def test_setup_commands_are_generated_per_language(
    local: LocalCodegen, client: CodegenClient
) -> None:
    async with local.async_client() as aclient:
        python = await aclient.setup_commands.generate(1)
    typescript = client.setup_commands.generate(2, prompt="How do I build demo-lib?")
    local.clock.advance(3600)  # type: ignore[attr-defined]
    py_run, ts_run = (
        client.agent_runs.get(python.agent_run_id),
        client.agent_runs.get(typescript.agent_run_id),
    )
    assert py_run.source_type == SourceType.SETUP_COMMANDS and py_run.status == "COMPLETE"
    assert py_run.result is not None and "pip install -e '.[test]'" in py_run.result
    assert ts_run.result is not None and ts_run.result.splitlines()[1:] == [
        "npm ci",
        "npm run build",
    ]
    logs = client.agent_runs.logs(python.agent_run_id).logs
    assert next(e.tool_input for e in logs if e.tool_name == "run_command") == {
        "command": "python -m venv .venv"
    }


def _analysis(stop_setup: bool) -> str | None:
    with LocalCodegen("tok", 3, clock=ManualClock(), rate_limits=False) as b, b.client() as c:
        setup = c.setup_commands.generate(1)
        b.clock.advance(15)  # type: ignore[attr-defined]
        if stop_setup:
            c.agent_runs.ban(setup.agent_run_id)
        analysis = c.sandbox.analyze_logs(1)
        b.clock.advance(3600)  # type: ignore[attr-defined]
        return c.agent_runs.get(analysis.agent_run_id).result


def test_sandbox_log_analysis_is_deterministic_and_reads_the_logs() -> None:
    clean = _analysis(stop_setup=False)
    assert clean == _analysis(stop_setup=False)
    assert clean is not None and clean.startswith("No errors in 1 setup log entries of sandbox 1")
    stopped = _analysis(stop_setup=True)
    assert stopped == _analysis(stop_setup=True)
    assert stopped is not None and stopped.startswith("1 error(s) in 2 setup log entries")
    assert "All checks banned" in stopped


def test_agent_starting_routes_have_their_documented_rate_limit() -> None:
    with LocalCodegen("tok", 3, clock=ManualClock()) as b, b.client(max_retries=0) as c:
        for _ in range(5):
            c.setup_commands.generate(1)
        with pytest.raises(RateLimitError) as info:
            c.setup_commands.generate(1)
        assert info.value.retry_after is not None
        assert [c.pull_requests.edit(1, state="open").success for _ in range(30)] == [False] * 30
        with pytest.raises(RateLimitError):
            c.cli_rules.get()  # PR edits and CLI rules share 30 a minute
        assert c.repos.list().total == 2  # other routes have their own budget


def test_over_http_revoke_fails_the_token_and_settings_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    with LocalCodegen("tok-served", 4242, db=db) as seed:
        github = seed.oauth_token("github")
    with (
        LocalServer(token="tok-served", db=db, rate_limits=False) as srv,
        CodegenClient(github, 4242, base_url=srv.base_url) as via_github,
    ):
        assert via_github.organizations.oauth_token_status() == ["github"]
        via_github.repos.update_check_suite_settings(1, check_retry_count=7)
        via_github.organizations.revoke_oauth_token(provider="github")
        with pytest.raises(AuthenticationError):
            via_github.repos.check_suite_settings(1)
    with LocalServer(token="tok-served", db=db) as srv:
        with CodegenClient("tok-served", 4242, base_url=srv.base_url) as client:
            assert client.repos.check_suite_settings(1).check_retry_count == 7
        r = httpx.get(f"{srv.base_url}/v1/users/me", headers={"Authorization": f"Bearer {github}"})
        assert r.status_code == 401


async def test_the_async_client_reaches_every_new_resource(local: LocalCodegen) -> None:
    async with local.async_client() as ac:
        assert (await ac.cli_rules.get()).user_custom_prompt is None
        assert [p.name for p in await ac.organizations.mcp_providers()] == [
            "linear",
            "notion",
            "sentry",
        ]
        token = await ac.slack_connect.generate_token()
        assert token.token.startswith("slack-connect-") and token.token not in repr(token)
        assert (await ac.integrations.get()).organization_name == "Local Org 42"
        assert isinstance(ac, AsyncCodegenClient)
