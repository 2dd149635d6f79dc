"""One run per key whatever path creates it: batches take ``create``'s check, per item.

Issue 21, case 1: ``run_many(key_prefix=K)`` scanned once, then created every item it had
not found without looking again, so two clients running the same keyed batch at once (a web
handler that builds a client per request, a double-clicked button) made two runs per key.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx

from codegen_graph import IDEMPOTENCY_METADATA_KEY, AsyncCodegenClient, CodegenClient
from codegen_graph.local import LocalCodegen, Outcome, RunContext

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "two clients running one keyed batch of 50 at once, from two threads and from two "
    "event loops, create each key once; a sync and an async client racing 20 keys create "
    "20 runs"
)

PROMPTS = [f"Fix issue #{i}" for i in range(50)]


class Quick:
    """Runs that finish after ten simulated seconds."""

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(status="COMPLETE", result=f"done: {ctx.prompt}", duration=10.0)


def runs_per_key(local: LocalCodegen) -> Counter[str]:
    with local.httpx_client() as http:
        keys: Counter[str] = Counter()
        skip, total = 0, 1
        while skip < total:
            page = http.get(
                f"/v1/organizations/{local.org_id}/agent/runs", params={"skip": skip, "limit": 100}
            ).json()
            total = page["total"]
            keys.update(
                (r.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) for r in page["items"]
            )
            skip += 100
        return keys


def test_two_clients_running_one_keyed_batch_at_once_create_each_key_once() -> None:
    with LocalCodegen(time_scale=2000, behavior=Quick(), rate_limits=False) as local:
        results: list[list[object]] = []

        def batch() -> None:
            with local.client() as client:  # one client per "request"
                results.append(list(client.agent_runs.run_many(PROMPTS, key_prefix="K")))

        threads = [threading.Thread(target=batch) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(results) == 2
        for items in results:
            assert all(item.ok for item in items), [item.error for item in items][:3]  # type: ignore[attr-defined]
        per_key = runs_per_key(local)
        assert len(per_key) == 50 and set(per_key.values()) == {1}, per_key.most_common(3)
        # every item of both batches holds its key's one run
        first, second = ([item.run.id for item in items] for items in results)  # type: ignore[attr-defined]
        assert first == second


async def test_two_async_clients_on_two_event_loops_create_each_key_once() -> None:
    with LocalCodegen(time_scale=2000, behavior=Quick(), rate_limits=False) as local:

        async def batch() -> list[int]:
            async with local.async_client() as client:
                items = await client.agent_runs.run_many(PROMPTS, key_prefix="K2")
                assert all(item.ok for item in items)
                return [item.run.id for item in items if item.run is not None]

        other: list[list[int]] = []
        thread = threading.Thread(target=lambda: other.append(asyncio.run(batch())))
        thread.start()
        mine = await batch()
        await asyncio.to_thread(thread.join, 120)
        assert other == [mine]
        per_key = runs_per_key(local)
        assert len(per_key) == 50 and set(per_key.values()) == {1}


class SlowPosts(httpx.BaseTransport):
    """The backend, each POST 20 ms slower: the window two unshared locks race through."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            time.sleep(0.02)
        return self.inner.handle_request(request)


class AsyncSlowPosts(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            await asyncio.sleep(0.02)
        return await self.inner.handle_async_request(request)


def test_a_sync_and_an_async_client_racing_one_key_share_its_lock() -> None:
    """The key's lock is process-wide: a thread of a sync client and a task of an async
    client take it one at a time, so one creates and the other finds its run (with a lock
    per kind of client, this made 17 duplicates of 20)."""
    keys = [f"race-{i}" for i in range(20)]
    with LocalCodegen(time_scale=2000, behavior=Quick(), rate_limits=False) as local:
        where = {"org_id": local.org_id, "base_url": local.base_url, "rate_limits": False}
        start = threading.Barrier(2)
        sync_ids: list[int] = []

        def sync_side() -> None:
            with CodegenClient(local.token, transport=SlowPosts(local.transport()), **where) as c:
                start.wait()
                sync_ids.extend(c.agent_runs.create("x", idempotency_key=k).id for k in keys)

        async def async_side() -> list[int]:
            transport = AsyncSlowPosts(local.async_transport())
            async with AsyncCodegenClient(local.token, transport=transport, **where) as c:
                await asyncio.to_thread(start.wait)
                return [(await c.agent_runs.create("x", idempotency_key=k)).id for k in keys]

        thread = threading.Thread(target=sync_side)
        thread.start()
        async_ids = asyncio.run(async_side())
        thread.join(timeout=120)
        assert sync_ids == async_ids
        assert local.stats()["runs_created"] == len(keys)
        assert local.stats()["duplicates"] == 0
