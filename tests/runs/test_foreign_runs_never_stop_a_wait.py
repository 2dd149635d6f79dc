"""Other people's data never breaks our waits or keyed creates.

Issue 21, case 4: one malformed run of someone else's in the newest page of the org's list
(a pull request with ``created_at: null``, ``metadata`` that is a list, ``organization_id:
null``) failed the whole page on every tick: waits ended in ``RunTimeoutError`` after
hundreds of failed list calls, keyed creates raised ``ResponseValidationError``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "with another's malformed run on top of every list page (a pull request without "
    "`created_at`, `metadata` that is a list, `organization_id` null), waits complete, "
    "keyed creates and batches succeed, `list()` leaves the run out, and one WARNING "
    "names it without its values (sync and async)"
)

MALFORMED: dict[str, dict[str, Any]] = {
    "pr without created_at": {
        "id": 9_000_001,
        "organization_id": 1,
        "status": "COMPLETE",
        "github_pull_requests": [{"id": 1, "url": "https://x/pull/1", "created_at": None}],
    },
    "metadata is a list": {
        "id": 9_000_002,
        "organization_id": 1,
        "status": "RUNNING",
        "metadata": ["secret-ghp_notshown"],
    },
    "organization_id null": {"id": 9_000_003, "organization_id": None, "status": "ACTIVE"},
}


def _with_foreign(response: httpx.Response, kind: str) -> httpx.Response:
    """The run list page with one malformed foreign run on top."""
    page = json.loads(response.read())
    page["items"] = [MALFORMED[kind], *page["items"]]
    page["total"] += 1
    return httpx.Response(200, json=page, headers={"content-type": "application/json"})


def _is_list(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path.endswith("/agent/runs")


class Foreign(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, kind: str) -> None:
        self.inner, self.kind, self.lists = inner, kind, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not _is_list(request):
            return response
        self.lists += 1
        return _with_foreign(response, self.kind)

    def close(self) -> None:
        self.inner.close()


class AsyncForeign(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, kind: str) -> None:
        self.inner, self.kind = inner, kind

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not _is_list(request):
            return response
        await response.aread()
        return _with_foreign(response, self.kind)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_foreign_run_stops_no_wait_and_no_keyed_create(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "codegen_graph")
    with LocalCodegen(clock=ManualClock()) as local:
        transport = Foreign(local.transport(), kind)
        with CodegenClient(
            local.token, local.org_id, base_url=local.base_url, transport=transport,
            clock=local.clock,
        ) as client:  # fmt: skip
            runs = [
                client.agent_runs.start(f"task {i}", idempotency_key=f"k-{i}") for i in range(3)
            ]
            for run in runs:
                run.wait(timeout=3600)
            assert all(run.is_success for run in runs)
            assert transport.lists >= 1  # the keyed lookups and the waits read the list
            again = client.agent_runs.create("task 0", idempotency_key="k-0")
            assert again.reused and again.id == runs[0].id
            batch = client.agent_runs.run_many(["a", "b"], key_prefix="batch", timeout=3600)
            assert all(item.ok for item in batch)
            page = client.agent_runs.list()
            assert MALFORMED[kind]["id"] not in {run.id for run in page.items}
    said = [r.getMessage() for r in caplog.records if str(MALFORMED[kind]["id"]) in r.getMessage()]
    assert len(said) == 1, said  # once, naming the run
    assert "secret-ghp" not in caplog.text


async def test_async_waits_complete_beside_a_malformed_foreign_run() -> None:
    with LocalCodegen(clock=ManualClock()) as local:
        transport = AsyncForeign(local.async_transport(), "metadata is a list")
        async with AsyncCodegenClient(
            local.token, local.org_id, base_url=local.base_url, transport=transport,
            clock=local.clock,
        ) as client:  # fmt: skip
            run = await client.agent_runs.start("task", idempotency_key="k-async")
            await run.wait(timeout=3600)
            assert run.is_success
            assert (await client.agent_runs.create("task", idempotency_key="k-async")).reused
