"""The local backend authorises on the organization id it acts on, whatever the spelling of
the path, and applies concurrent state changes of one run one after the other."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen_graph import CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, LocalServer
from codegen_graph.local._store import Identity

ORG_A, ORG_B = 42, 7
SECRET = "the-secret-task-of-org-a"


class World:
    """Org A with a run; a token of org B; what counts as org A's data."""

    def __init__(self, backend: LocalCodegen) -> None:
        self.backend = backend
        with backend.client() as client:
            self.run_id = client.agent_runs.create(SECRET, metadata={"owner": "org-a"}).id
            backend.clock.advance(3600)  # type: ignore[attr-defined]  # it opened PR 1
            client.repos.update_check_suite_settings(1, check_retry_count=4)
        backend.oauth_token("github")
        self.user_a = backend.user_id
        self.token_b = backend.add_token(org_id=ORG_B)
        identity = backend.store.identity(self.token_b)
        assert identity is not None
        self.user_b = identity.user_id
        self.markers = (
            SECRET,
            "org-a",
            f'"organization_id":{ORG_A}',
            f"local-org-{ORG_A}",
            f"dev{self.user_a}@localhost",
            f'"id":{self.run_id}',
        )

    def snapshot(self) -> str:
        store = self.backend.store
        runs, total = store.list_runs(ORG_A, user_id=None, source_type=None, skip=0, limit=100)
        settings = store.get_meta(f"check_suite:{ORG_A}:1")
        return json.dumps([total, runs, settings, store.oauth_providers(ORG_A)], sort_keys=True)

    def requests(self, seg: str) -> list[tuple[str, str, dict[str, Any] | None]]:
        """Every org-scoped route of the API, with ``seg`` as the organization segment."""
        org, run = f"/v1/organizations/{seg}", self.run_id
        stop = {"agent_run_id": run}
        return [
            ("POST", f"{org}/agent/run", {"prompt": "work for org B?"}),
            ("POST", f"{org}/agent/run/resume", {"agent_run_id": run, "prompt": "more"}),
            ("POST", f"{org}/agent/run/ban", stop),
            ("POST", f"{org}/agent/run/unban", stop),
            ("POST", f"{org}/agent/run/remove-from-pr", stop),
            ("GET", f"{org}/agent/run/{run}", None),
            ("GET", f"{org}/agent/runs", None),
            ("GET", f"/v1/alpha/organizations/{seg}/agent/run/{run}/logs", None),
            ("GET", f"{org}/users", None),
            ("GET", f"{org}/users/{self.user_a}", None),
            ("GET", f"{org}/repos", None),
            ("GET", f"{org}/repos/check-suite-settings?repo_id=1", None),
            ("PUT", f"{org}/repos/check-suite-settings?repo_id=1", {"check_retry_count": 9}),
            ("PATCH", f"{org}/prs/1", {"state": "closed"}),
            ("PATCH", f"{org}/repos/1/prs/1", {"state": "closed"}),
            ("GET", f"{org}/integrations", None),
            ("POST", f"{org}/setup-commands/generate", {"repo_id": 1}),
            ("POST", f"{org}/sandbox/1/analyze-logs", None),
            ("GET", f"{org}/cli/rules", None),
            ("GET", f"/v1/oauth/tokens/status?org_id={seg}", None),
            ("POST", f"/v1/oauth/tokens/revoke?provider=github&org_id={seg}", None),
        ]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    backend = LocalCodegen("tok-org-a", ORG_A, clock=ManualClock(), rate_limits=False)
    with backend:
        yield World(backend)


def _probe(world: World, raw_segment: str) -> list[tuple[str, int]]:
    """Send every route with a foreign token; fail on any answer below 400 that carries
    org A's data, on any 5xx, and on any change of org A's runs."""
    before = world.snapshot()
    seg = quote(raw_segment, safe="")
    seen = []
    with world.backend.httpx_client(headers={"Authorization": f"Bearer {world.token_b}"}) as http:
        for method, path, body in world.requests(seg):
            r = http.request(method, path, json=body)
            seen.append((path, r.status_code))
            assert r.status_code < 500, (path, r.status_code, r.text)
            if r.status_code < 400:
                text = r.text.replace(" ", "")
                leaked = [m for m in world.markers if m.replace(" ", "") in text]
                assert not leaked, (raw_segment, path, r.status_code, leaked)
    assert world.snapshot() == before, f"org A's runs changed through {raw_segment!r}"
    return seen


SPELLINGS = ["+42", " 42", "42 ", "42.0", "042", "4_2", "42\t", "\n42", "٤٢", "42e0", "0x2a"]


@pytest.mark.parametrize("raw", SPELLINGS)
def test_non_canonical_spellings_of_another_org_are_refused(world: World, raw: str) -> None:
    statuses = {status for _, status in _probe(world, raw)}
    assert statuses <= {403, 404, 422}, statuses


def test_the_canonical_spelling_of_another_org_is_403(world: World) -> None:
    assert {status for _, status in _probe(world, str(ORG_A))} == {403}


def test_the_tokens_own_org_still_works(world: World) -> None:
    with world.backend.httpx_client(headers={"Authorization": f"Bearer {world.token_b}"}) as http:
        r = http.get(f"/v1/organizations/{ORG_B}/agent/runs")
        assert r.status_code == 200 and r.json()["total"] == 0
        assert http.get(f"/v1/organizations/+{ORG_B}/agent/runs").status_code == 422


_no_surrogates = st.characters(exclude_categories=("Cs",))
_segments = st.one_of(
    st.builds(
        lambda pre, post: pre + str(ORG_A) + post,
        st.text(_no_surrogates, max_size=3),
        st.text(_no_surrogates, max_size=3),
    ),
    st.builds(lambda n: n + str(ORG_A), st.sampled_from(["+", "-", "0", "00", " ", "%20"])),
    st.text(_no_surrogates, max_size=8),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(segment=_segments)
def test_fuzzed_org_segments_never_reach_another_org(world: World, segment: str) -> None:
    _probe(world, segment)


async def test_routes_compare_the_parsed_org_id_too(world: World) -> None:
    """Behind the gate, each route checks the organization it will act on again."""
    api = world.backend.app.app  # type: ignore[attr-defined]

    async def as_org_b(scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})["identity"] = Identity(world.user_b, ORG_B)
        await api(scope, receive, send)

    transport = httpx.ASGITransport(app=as_org_b)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        before = world.snapshot()
        for raw in ("+42", " 42", "42"):
            for method, path, body in world.requests(quote(raw, safe="")):
                r = await http.request(method, path, json=body)
                assert r.status_code in (403, 422), (raw, path, r.status_code)
        assert world.snapshot() == before


# -- per-run serialisation ------------------------------------------------------------------
def _resume_concurrently(clients: list[CodegenClient], run_id: int) -> list[str]:
    """Resume ``run_id`` once from each client, all at the same moment; the prompts."""
    prompts = [f"follow-up {i}" for i in range(len(clients))]
    barrier = threading.Barrier(len(clients))
    errors: list[BaseException] = []

    def resume(client: CodegenClient, prompt: str) -> None:
        try:
            barrier.wait(timeout=30)
            client.agent_runs.resume(run_id, prompt)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=resume, args=cp) for cp in zip(clients, prompts, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return prompts


def test_20_concurrent_resumes_of_one_run_over_http_are_all_recorded() -> None:
    with LocalServer(time_scale=1000.0, rate_limits=False) as server:
        make = lambda: CodegenClient(server.token, server.org_id, base_url=server.base_url)  # noqa: E731
        clients = [make() for _ in range(20)]
        try:
            run_id = clients[0].agent_runs.create("start").id
            prompts = _resume_concurrently(clients, run_id)
            logs = clients[0].agent_runs.logs(run_id, limit=100)
        finally:
            for client in clients:
                client.close()
    user_messages = [e.thought for e in logs.logs if e.message_type == "USER_MESSAGE"]
    assert sorted(m for m in user_messages if m) == sorted(prompts)


def test_20_concurrent_resumes_in_process_are_all_recorded() -> None:
    backend = LocalCodegen(clock=ManualClock(), rate_limits=False)
    with backend:
        clients = [backend.client() for _ in range(20)]
        try:
            run_id = clients[0].agent_runs.create("start").id
            prompts = _resume_concurrently(clients, run_id)
        finally:
            for client in clients:
                client.close()
        stored = backend.store.get_run(run_id)
        assert stored is not None
        assert sorted(stored["prompts"][1:]) == sorted(prompts)
        assert backend.stats()["runs_resumed"] == 20


def test_concurrent_resumes_through_two_backends_on_one_file(tmp_path: Path) -> None:
    """Two backends (two SQLite connections, as two processes would have) on one file."""
    db = tmp_path / "shared.db"
    first = LocalCodegen("tok-shared", 5, db=db, time_scale=1000, rate_limits=False)
    second = LocalCodegen("tok-shared", 5, db=db, time_scale=1000, rate_limits=False)
    with first, second:
        with first.client() as c:
            run_id = c.agent_runs.create("start").id
        errors: list[BaseException] = []

        def resume(backend: LocalCodegen, i: int) -> None:
            try:
                with backend.client() as client:
                    client.agent_runs.resume(run_id, f"from thread {i}")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=resume, args=(first if i % 2 else second, i)) for i in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        stored = first.store.get_run(run_id)
        assert stored is not None
        assert sorted(stored["prompts"][1:]) == sorted(f"from thread {i}" for i in range(20))
