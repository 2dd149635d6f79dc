"""One run per idempotency key in a busy org: the lookup is bounded by time, not by count.

Every test runs on the local backend in process, on a ManualClock, with other users' runs
landing in the org between the calls (the busy organisation of issue 12).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from codegen_graph import IDEMPOTENCY_METADATA_KEY, CodegenClient, ConfigurationError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.resources import DEFAULT_KEY_LOOKBACK


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def local(clock: ManualClock) -> Iterator[LocalCodegen]:
    # The backend's own rate limits are off so the seeding below is fast; the clients keep
    # their default budgets (sleeping on the ManualClock costs no real time).
    with LocalCodegen(clock=clock, rate_limits=False) as backend:
        yield backend


def seed(local: LocalCodegen, n: int, *, clock: ManualClock | None = None) -> None:
    """``n`` runs by another user of the org (not through our client: no key memo)."""
    other = local.add_token()
    with local.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
        for i in range(n):
            response = http.post(
                f"/v1/organizations/{local.org_id}/agent/run", json={"prompt": f"other {i}"}
            )
            assert response.status_code == 200, response.text
            if clock is not None:
                clock.advance(1.0)


def runs_with_key(local: LocalCodegen, key: str) -> int:
    with local.httpx_client() as http:
        total, skip, count = None, 0, 0
        while total is None or skip < total:
            page = http.get(
                f"/v1/organizations/{local.org_id}/agent/runs",
                params={"skip": skip, "limit": 100},
            ).json()
            total = page["total"]
            count += sum(
                1
                for run in page["items"]
                if (run.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) == key
            )
            skip += 100
        return count


class Counting(httpx.BaseTransport):
    """Counts the requests a client sends (per method and path suffix)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return self.inner.handle_request(request)

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p in self.sent if m == method and p.endswith(suffix))


def client_on(local: LocalCodegen, transport: httpx.BaseTransport, **kw: object) -> CodegenClient:
    kw.setdefault("base_url", local.base_url)
    return CodegenClient(local.token, local.org_id, transport=transport, clock=local.clock, **kw)  # type: ignore[arg-type]


def counted(local: LocalCodegen) -> tuple[CodegenClient, Counting]:
    transport = Counting(local.transport())
    return client_on(local, transport), transport


def test_create_twice_with_one_key_is_one_run(local: LocalCodegen) -> None:
    with local.client() as client:
        first = client.agent_runs.create("Add a /health endpoint", idempotency_key="k-twice")
        again = client.agent_runs.create("Add a /health endpoint", idempotency_key="k-twice")
    assert again.id == first.id
    assert (first.reused, again.reused) == (False, True)
    assert runs_with_key(local, "k-twice") == 1
    assert local.stats()["runs_created"] == 1


def test_a_second_create_in_the_same_client_costs_one_get(local: LocalCodegen) -> None:
    client, sent = counted(local)
    with client:
        first = client.agent_runs.create("x", idempotency_key="k-memo")
        seed(local, 150)
        before = len(sent.sent)
        again = client.agent_runs.create("x", idempotency_key="k-memo")
    assert again.id == first.id and again.reused
    assert sent.sent[before:] == [("GET", f"/v1/organizations/{local.org_id}/agent/run/{first.id}")]


@pytest.mark.parametrize("newer", [1000])
def test_a_key_is_found_after_a_thousand_newer_runs(
    local: LocalCodegen, clock: ManualClock, newer: int
) -> None:
    with local.client() as first_process:
        created = first_process.agent_runs.create("Fix the login bug", idempotency_key="k-old")
    seed(local, newer, clock=clock)  # 1,000 runs over 1,000 seconds
    client, sent = counted(local)  # a new client: nothing remembered
    with client:
        handle = client.agent_runs.start("Fix the login bug", idempotency_key="k-old")
    assert handle.id == created.id
    assert handle.reused
    assert runs_with_key(local, "k-old") == 1
    assert sent.count("POST", "/agent/run") == 0
    # The scan read every page down to the run (1,001 runs, 100 per page): 11 pages.
    assert sent.count("GET", "/agent/runs") == 11


def test_the_scan_stops_at_the_bound_not_at_the_end(
    local: LocalCodegen, clock: ManualClock
) -> None:
    seed(local, 500, clock=clock)
    clock.advance(DEFAULT_KEY_LOOKBACK + 3600)  # those runs are older than the look-back
    seed(local, 150, clock=clock)
    client, sent = counted(local)
    with client:
        assert client.agent_runs.find_by_idempotency_key("k-nowhere") is None
    # 150 runs are inside the day: two pages; the second reaches past the bound, so the 500
    # older runs are never read.
    assert sent.count("GET", "/agent/runs") == 2


def test_created_after_reaches_further_than_the_default_look_back(
    local: LocalCodegen, clock: ManualClock
) -> None:
    with local.client() as client:
        began = clock.now()
        created = client.agent_runs.create("Weekly report", idempotency_key="k-week")
    seed(local, 150, clock=clock)  # the same day
    clock.advance(3 * DEFAULT_KEY_LOOKBACK)  # three days later
    seed(local, 120, clock=clock)
    with local.client() as client:
        # Without created_after the look-back is one day (the limit the docs state): the
        # scan stops on the page that reaches past it, before the key's page.
        assert client.agent_runs.find_by_idempotency_key("k-week") is None
        found = client.agent_runs.find_by_idempotency_key("k-week", created_after=began)
        as_datetime = datetime.fromtimestamp(began, tz=timezone.utc)
        again = client.agent_runs.create(
            "Weekly report", idempotency_key="k-week", created_after=as_datetime
        )
    assert found is not None and found.id == created.id
    assert again.id == created.id and again.reused
    assert runs_with_key(local, "k-week") == 1


def test_eight_threads_starting_one_key_make_one_run(local: LocalCodegen) -> None:
    barrier = threading.Barrier(8)
    ids: list[int] = []
    reused: list[bool] = []

    def start(client: CodegenClient) -> None:
        barrier.wait()
        handle = client.agent_runs.start("Same work", idempotency_key="k-threads")
        ids.append(handle.id)
        reused.append(handle.reused)

    # Half share one client, half have their own: single flight is per process.
    shared = local.client()
    clients = [shared] * 4 + [local.client() for _ in range(4)]
    threads = [threading.Thread(target=start, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in set(clients):
        c.close()
    assert len(set(ids)) == 1
    assert sorted(reused) == [False] + [True] * 7
    assert runs_with_key(local, "k-threads") == 1


async def test_eight_tasks_starting_one_key_make_one_run(local: LocalCodegen) -> None:
    shared = local.async_client()
    clients = [shared] * 4 + [local.async_client() for _ in range(4)]
    handles = await asyncio.gather(
        *(c.agent_runs.start("Same work", idempotency_key="k-tasks") for c in clients)
    )
    for c in set(clients):
        await c.aclose()
    assert len({h.id for h in handles}) == 1
    assert sorted(h.reused for h in handles) == [False] + [True] * 7
    assert runs_with_key(local, "k-tasks") == 1


async def test_async_create_twice_and_after_newer_runs(
    local: LocalCodegen, clock: ManualClock
) -> None:
    async with local.async_client() as client:
        first = await client.agent_runs.create("x", idempotency_key="k-async")
    seed(local, 250, clock=clock)
    async with local.async_client() as client:
        again = await client.agent_runs.create("x", idempotency_key="k-async")
        found = await client.agent_runs.find_by_idempotency_key("k-async")
    assert again.id == first.id and again.reused
    assert found is not None and found.id == first.id
    assert runs_with_key(local, "k-async") == 1


def test_create_and_wait_with_a_key_is_exactly_once(local: LocalCodegen) -> None:
    with local.client() as client:
        first = client.agent_runs.create_and_wait("x", idempotency_key="k-wait", timeout=3600)
    seed(local, 120)
    with local.client() as client:
        again = client.agent_runs.create_and_wait("x", idempotency_key="k-wait", timeout=3600)
    assert again.id == first.id and again.reused and again.is_terminal
    assert runs_with_key(local, "k-wait") == 1


def test_reuse_existing_false_with_a_key_is_refused(local: LocalCodegen) -> None:
    with local.client() as client, pytest.raises(ConfigurationError, match="reuse_existing"):
        client.agent_runs.start("x", idempotency_key="k", reuse_existing=False)
    assert local.stats()["runs_created"] == 0


def test_two_processes_racing_one_key_without_coordination_can_make_two_runs(
    local: LocalCodegen,
) -> None:
    """The limit the docs state: without shared coordination (Redis), two processes that
    look the key up before either has created can both create. Another process is modelled
    by a client with another base URL spelling (no shared lock, no shared memo)."""
    other = local.client(base_url="http://localhost:80")
    raced: list[int] = []

    class RaceBeforePost(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and not raced:
                # Our lookup found nothing; the other process creates the key right now.
                raced.append(other.agent_runs.create("x", idempotency_key="k-race").id)
            return self.inner.handle_request(request)

    with client_on(local, RaceBeforePost(local.transport())) as client:
        mine = client.agent_runs.create("x", idempotency_key="k-race")
        assert not mine.reused and mine.id != raced[0]
        assert runs_with_key(local, "k-race") == 2  # the duplicate the docs warn about
        # Once both exist, every later call gets one of them and creates nothing more.
        assert client.agent_runs.create("x", idempotency_key="k-race").reused
    with local.client() as later:
        assert later.agent_runs.create("x", idempotency_key="k-race").id in {mine.id, raced[0]}
    other.close()
    assert runs_with_key(local, "k-race") == 2


def test_one_process_after_another_holds_without_coordination(local: LocalCodegen) -> None:
    """Processes that do not overlap need no coordination: the second one finds the run."""
    with local.client(base_url="http://localhost:80") as first:
        created = first.agent_runs.create("x", idempotency_key="k-seq")
    seed(local, 300)
    with local.client() as second:
        again = second.agent_runs.create("x", idempotency_key="k-seq")
    assert again.id == created.id and again.reused
