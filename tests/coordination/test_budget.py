"""The shared rate budget seen from the async client, against a real (paused) Redis."""

from __future__ import annotations

import asyncio
import time

import redis

from codegen_graph import Coordination
from codegen_graph._coordination._budget import SharedBudgets
from codegen_graph.local import LocalCodegen

SCALE = 200.0


async def test_the_async_client_does_not_block_its_loop_on_the_shared_budget(
    redis_url: str, prefix: str
) -> None:
    """While Redis sits on the budget's script (``CLIENT PAUSE WRITE`` holds it unanswered),
    the event loop goes on running other tasks; the call completes once Redis answers."""
    backend = LocalCodegen(time_scale=SCALE)
    client = backend.async_client(coordination=Coordination(redis_url, prefix=prefix))
    store = client.rate_budgets.store
    assert isinstance(store, SharedBudgets)
    await client.organizations.list()  # the bucket and its script exist: next, one EVALSHA
    control = redis.Redis.from_url(redis_url, decode_responses=True)

    def held() -> int:  # clients whose command Redis holds (INFO is not paused)
        return int(control.info("clients")["blocked_clients"])

    control.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
    try:
        call = asyncio.ensure_future(client.organizations.list())
        deadline = time.monotonic() + 30
        while held() == 0:  # this task runs while the call waits for Redis...
            assert not call.done(), "the call finished without waiting for Redis"
            assert time.monotonic() < deadline, "the budget call never reached Redis"
            await asyncio.sleep(0.001)
        for _ in range(10):  # ...and keeps running while Redis holds the call
            await asyncio.sleep(0)
        assert not call.done() and held() == 1
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
    page = await asyncio.wait_for(call, 30)
    assert page.items  # answered, through the shared budget (not the local fallback)
    assert store.fallback_grants["standard"] == 0 and client.coordination is not None
    assert client.coordination.available
    await client.aclose()
    backend.close()
