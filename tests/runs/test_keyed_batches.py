"""A keyed batch run twice is one run per key, however many runs the org has."""

from __future__ import annotations

import httpx

from codegen_graph import IDEMPOTENCY_METADATA_KEY, AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, Outcome, RunContext


class Quick:
    """Runs that finish after five simulated seconds."""

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(status="COMPLETE", result=f"done: {ctx.prompt}", duration=5.0)


class CountingAsync(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lists = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.lists += request.method == "GET" and request.url.path.endswith("/agent/runs")
        return await self.inner.handle_async_request(request)


class Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.lists = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.lists += request.method == "GET" and request.url.path.endswith("/agent/runs")
        return self.inner.handle_request(request)


def keys_of(local: LocalCodegen) -> list[str]:
    with local.httpx_client() as http:
        keys, skip, total = [], 0, 1
        while skip < total:
            page = http.get(
                f"/v1/organizations/{local.org_id}/agent/runs", params={"skip": skip, "limit": 100}
            ).json()
            total = page["total"]
            keys += [(r.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) for r in page["items"]]
            skip += 100
        return keys


async def test_a_keyed_batch_of_250_run_twice_creates_250_runs() -> None:
    prompts = [f"Fix issue #{i}" for i in range(250)]
    with LocalCodegen(clock=ManualClock(), behavior=Quick(), rate_limits=False) as local:
        async with local.async_client() as client:
            first = await client.agent_runs.run_many(prompts, key_prefix="rel-7", timeout=7200)
        assert all(item.ok for item in first), [i.error for i in first if not i.ok][:3]
        assert not any(item.run and item.run.reused for item in first)
        counting = CountingAsync(local.async_transport())
        async with AsyncCodegenClient(
            local.token,
            local.org_id,
            transport=counting,
            clock=local.clock,
            base_url=local.base_url,
        ) as client:
            again = await client.agent_runs.run_many(prompts, key_prefix="rel-7", timeout=7200)
        stats = local.stats()
        keys = keys_of(local)
    assert [i.run.id for i in again if i.run] == [i.run.id for i in first if i.run]
    assert all(item.run is not None and item.run.reused for item in again)
    assert stats["runs_created"] == 250
    assert stats["duplicates"] == 0
    # One scan for the whole batch (three pages of 100), not one lookup per item; every
    # run is already over, so the watcher lists nothing.
    assert counting.lists == 3
    assert sorted(keys) == sorted(f"rel-7-{i}" for i in range(250))
    assert first[0].key == "rel-7-0" and first[0].started_at is not None


def test_a_sync_keyed_batch_run_twice_after_newer_runs() -> None:
    prompts = [f"Task {i}" for i in range(30)]
    with LocalCodegen(clock=ManualClock(), behavior=Quick(), rate_limits=False) as local:
        with local.client() as client:
            first = client.agent_runs.run_many(prompts, key_prefix="s-1", timeout=7200)
        other = local.add_token()
        with local.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
            for i in range(150):
                http.post(f"/v1/organizations/{local.org_id}/agent/run", json={"prompt": f"o{i}"})
        counting = Counting(local.transport())
        with CodegenClient(
            local.token,
            local.org_id,
            transport=counting,
            clock=local.clock,
            base_url=local.base_url,
        ) as client:
            again = client.agent_runs.run_many(prompts, key_prefix="s-1", timeout=7200)
        stats = local.stats()
    assert [i.run.id for i in again if i.run] == [i.run.id for i in first if i.run]
    assert all(i.run is not None and i.run.reused for i in again)
    assert stats["runs_created"] == 180 and stats["duplicates"] == 0
    # Every run was already terminal: the batch scan (two pages) was all it listed.
    assert counting.lists == 2


async def test_an_async_keyed_batch_after_newer_runs_reuses_every_run() -> None:
    clock = ManualClock()
    with LocalCodegen(clock=clock, behavior=Quick(), rate_limits=False) as local:
        async with local.async_client() as client:
            first = await client.agent_runs.run_many(["a", "b", "c"], key_prefix="b-2")
        other = local.add_token()
        with local.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
            for i in range(150):
                http.post(f"/v1/organizations/{local.org_id}/agent/run", json={"prompt": f"o{i}"})
        async with local.async_client() as client:
            again = await client.agent_runs.run_many(["a", "b", "c"], key_prefix="b-2")
        stats = local.stats()
    assert [i.run.id for i in again if i.run] == [i.run.id for i in first if i.run]
    assert all(i.run is not None and i.run.reused for i in again)
    assert stats["duplicates"] == 0
    assert stats["runs_created"] == 153
