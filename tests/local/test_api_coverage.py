"""Every operation of the official spec has a method in both clients, and every method sends
its operation's request and gets an answer the spec allows: in process and over real HTTP,
with the sync and the async client.

``OPERATIONS`` is the explicit map operationId -> method; ``docs/client.md`` shows the same
table. An operation the spec adds fails the first test until it has a method here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, LocalServer

REPO = Path(__file__).resolve().parents[2]

OPERATIONS: dict[str, str] = {
    "get_users_v1_organizations__org_id__users_get": "users.list",
    "get_user_v1_organizations__org_id__users__user_id__get": "users.get",
    "get_current_user_info_v1_users_me_get": "users.me",
    "create_agent_run_v1_organizations__org_id__agent_run_post": "agent_runs.create",
    "get_agent_run_v1_organizations__org_id__agent_run__agent_run_id__get": "agent_runs.get",
    "list_agent_runs_v1_organizations__org_id__agent_runs_get": "agent_runs.list",
    "resume_agent_run_v1_organizations__org_id__agent_run_resume_post": "agent_runs.resume",
    "ban_all_checks_for_agent_run_v1_organizations__org_id__agent_run_ban_post": "agent_runs.ban",
    "unban_all_checks_for_agent_run_v1_organizations__org_id__agent_run_unban_post": (
        "agent_runs.unban"
    ),
    "remove_codegen_from_pr_v1_organizations__org_id__agent_run_remove_from_pr_post": (
        "agent_runs.remove_from_pr"
    ),
    "get_agent_run_logs_v1_alpha_organizations__org_id__agent_run__agent_run_id__logs_get": (
        "agent_runs.logs"
    ),
    "get_repositories_v1_organizations__org_id__repos_get": "repos.list",
    "get_check_suite_settings_v1_organizations__org_id__repos_check_suite_settings_get": (
        "repos.check_suite_settings"
    ),
    "update_check_suite_settings_v1_organizations__org_id__repos_check_suite_settings_put": (
        "repos.update_check_suite_settings"
    ),
    "edit_pull_request_simple_v1_organizations__org_id__prs__pr_id__patch": "pull_requests.edit",
    "edit_pull_request_v1_organizations__org_id__repos__repo_id__prs__pr_id__patch": (
        "pull_requests.edit_in_repo"
    ),
    "get_organization_integrations_endpoint_v1_organizations__org_id__integrations_get": (
        "integrations.get"
    ),
    "generate_setup_commands_v1_organizations__org_id__setup_commands_generate_post": (
        "setup_commands.generate"
    ),
    "get_organizations_v1_organizations_get": "organizations.list",
    "get_mcp_providers_v1_mcp_providers_get": "organizations.mcp_providers",
    "get_oauth_token_status_v1_oauth_tokens_status_get": "organizations.oauth_token_status",
    "revoke_oauth_token_v1_oauth_tokens_revoke_post": "organizations.revoke_oauth_token",
    "analyze_sandbox_logs_v1_organizations__org_id__sandbox__sandbox_id__analyze_logs_post": (
        "sandbox.analyze_logs"
    ),
    "get_cli_rules_v1_organizations__org_id__cli_rules_get": "cli_rules.get",
    "generate_slack_connect_token_endpoint_v1_slack_connect_generate_token_post": (
        "slack_connect.generate_token"
    ),
}


def _operations(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId -> (HTTP method, path template), in the spec's order."""
    return {
        op["operationId"]: (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }


def _method(client: object, dotted: str) -> Any:
    resource, name = dotted.split(".")
    return getattr(getattr(client, resource, None), name, None)


def test_every_operation_has_a_method_in_both_clients(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert [op for op in operations if op not in OPERATIONS] == [], "operations without a method"
    assert [op for op in OPERATIONS if op not in operations] == [], "not operations of the spec"
    sync, aio = CodegenClient("t", 1), AsyncCodegenClient("t", 1)
    covered = []
    for op, dotted in OPERATIONS.items():
        method, amethod = _method(sync, dotted), _method(aio, dotted)
        assert callable(method) and not inspect.iscoroutinefunction(method), (op, dotted)
        assert inspect.iscoroutinefunction(amethod), (op, dotted)
        covered.append(op)
    sync.close()
    print(f"{len(covered)} of {len(operations)} operations have methods in both clients")
    assert len(covered) == len(operations)


def test_docs_show_the_table(spec: dict[str, Any]) -> None:
    """docs/client.md has one row per operation: its summary, its endpoint, its method."""
    text = (REPO / "docs" / "client.md").read_text(encoding="utf-8")
    for op, (method, path) in _operations(spec).items():
        summary = next(o["summary"] for o in spec["paths"][path].values() if o["operationId"] == op)
        row = re.search(
            rf"^\| {re.escape(summary)} \| `{method} {re.escape(path)}` \| (.+)\|$", text, re.M
        )
        assert row is not None, f"no row for {summary} ({method} {path}) in docs/client.md"
        assert f"`{OPERATIONS[op]}(" in row.group(1), (op, row.group(1))


# -- the walk: every method, against the local backend ------------------------------------
@dataclass
class World:
    """Ids the calls need: a finished run with a pull request, and a sandbox with logs."""

    run_id: int
    pr_id: int
    user_id: int


ARGS: dict[str, Callable[[World], tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "users.get": lambda w: ((w.user_id,), {}),
    "agent_runs.create": lambda w: (("Add a /version endpoint",), {}),
    "agent_runs.get": lambda w: ((w.run_id,), {}),
    "agent_runs.resume": lambda w: ((w.run_id, "Also add a test"), {}),
    "agent_runs.ban": lambda w: ((w.run_id,), {}),
    "agent_runs.unban": lambda w: ((w.run_id,), {}),
    "agent_runs.remove_from_pr": lambda w: ((w.run_id,), {}),
    "agent_runs.logs": lambda w: ((w.run_id,), {}),
    "repos.check_suite_settings": lambda w: ((1,), {}),
    "repos.update_check_suite_settings": lambda w: ((1,), {"check_retry_count": 2}),
    "pull_requests.edit": lambda w: ((w.pr_id,), {"state": "closed"}),
    "pull_requests.edit_in_repo": lambda w: ((1, w.pr_id), {"state": "open"}),
    "setup_commands.generate": lambda w: ((2,), {}),  # repo 1 keeps the logs sandbox 1 has
    "organizations.revoke_oauth_token": lambda w: ((), {"provider": "slack"}),
    "sandbox.analyze_logs": lambda w: ((1,), {}),
}


class Recorder:
    """An httpx event hook pair: remembers each request and checks each answer on the spec."""

    def __init__(self, contract: Any) -> None:
        self.contract = contract
        self.sent: list[tuple[str, str]] = []

    def request(self, request: httpx.Request) -> None:
        self.sent.append((request.method, request.url.path))

    def response(self, response: httpx.Response) -> None:
        response.read()
        self.contract.check(response)

    async def arequest(self, request: httpx.Request) -> None:
        self.request(request)

    async def aresponse(self, response: httpx.Response) -> None:
        await response.aread()
        self.contract.check(response)


def _world(client: CodegenClient, settle: Callable[[int], None]) -> World:
    """A finished run with a PR, and setup commands generated on repo 1 (sandbox 1's logs)."""
    run = client.agent_runs.create("Add a /health endpoint", repo_id=1)
    settle(run.id)
    settle(client.setup_commands.generate(1).agent_run_id)
    prs = client.agent_runs.get(run.id).github_pull_requests or []
    return World(run.id, prs[0].id, client.users.me().id)


def _check_walk(spec: dict[str, Any], recorder: Recorder, results: dict[str, Any]) -> None:
    for op, (method, template) in _operations(spec).items():
        sent = results[op]
        assert any(recorder.contract.operation(m, p)[0] == template for m, p in sent), (op, sent)
        assert any(m == method for m, _ in sent), (op, sent)
    checked = {(m, t) for m, t, s in recorder.contract.checked if s < 300}
    assert checked >= set(_operations(spec).values())


def _walk(client: CodegenClient, recorder: Recorder, world: World) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    for op, dotted in OPERATIONS.items():
        args, kwargs = ARGS.get(dotted, lambda w: ((), {}))(world)
        before = len(recorder.sent)
        _method(client, dotted)(*args, **kwargs)
        sent[op] = recorder.sent[before:]
    return sent


async def _awalk(client: AsyncCodegenClient, recorder: Recorder, world: World) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    for op, dotted in OPERATIONS.items():
        args, kwargs = ARGS.get(dotted, lambda w: ((), {}))(world)
        before = len(recorder.sent)
        await _method(client, dotted)(*args, **kwargs)
        sent[op] = recorder.sent[before:]
    return sent


@pytest.fixture
def local() -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=ManualClock(), rate_limits=False) as backend:
        yield backend


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(time_scale=1000, rate_limits=False) as srv:
        yield srv


def _hooks(recorder: Recorder, *, aio: bool) -> dict[str, Any]:
    if aio:
        return {"request": [recorder.arequest], "response": [recorder.aresponse]}
    return {"request": [recorder.request], "response": [recorder.response]}


def _advance(local: LocalCodegen) -> Callable[[int], None]:
    return lambda run_id: local.clock.advance(3600)  # type: ignore[attr-defined]


async def test_every_method_in_process(
    spec: dict[str, Any], contract: Any, local: LocalCodegen
) -> None:
    recorder = Recorder(contract)
    with local.client() as setup:
        world = _world(setup, _advance(local))
    http = httpx.Client(transport=local.transport(), event_hooks=_hooks(recorder, aio=False))
    with http, CodegenClient(local.token, local.org_id, http_client=http, clock=local.clock) as c:
        _check_walk(spec, recorder, _walk(c, recorder, world))
    recorder.contract.checked.clear()
    ahttp = httpx.AsyncClient(
        transport=local.async_transport(), event_hooks=_hooks(recorder, aio=True)
    )
    async with (
        ahttp,
        AsyncCodegenClient(local.token, local.org_id, http_client=ahttp, clock=local.clock) as ac,
    ):
        _check_walk(spec, recorder, await _awalk(ac, recorder, world))


async def test_every_method_over_http(
    spec: dict[str, Any], contract: Any, server: LocalServer, tmp_path: Path
) -> None:
    recorder = Recorder(contract)
    token, org, url = server.token, server.org_id, server.base_url
    with CodegenClient(token, org, base_url=url) as setup:
        world = _world(setup, lambda run_id: setup.agent_runs.attach(run_id).wait(timeout=600))
    http = httpx.Client(event_hooks=_hooks(recorder, aio=False))
    with http, CodegenClient(token, org, base_url=url, http_client=http) as client:
        _check_walk(spec, recorder, _walk(client, recorder, world))
    recorder.contract.checked.clear()
    ahttp = httpx.AsyncClient(event_hooks=_hooks(recorder, aio=True))
    async with ahttp, AsyncCodegenClient(token, org, base_url=url, http_client=ahttp) as ac:
        _check_walk(spec, recorder, await _awalk(ac, recorder, world))
