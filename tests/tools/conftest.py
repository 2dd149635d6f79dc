from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def local(clock: ManualClock) -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=clock) as backend:
        yield backend


@pytest.fixture
def client(local: LocalCodegen) -> Iterator[CodegenClient]:
    with local.client() as sync_client:
        yield sync_client


@pytest.fixture
async def aclient(local: LocalCodegen) -> AsyncIterator[AsyncCodegenClient]:
    async with local.async_client() as async_client:
        yield async_client


@pytest.fixture
def finished_run(client: CodegenClient, clock: ManualClock) -> int:
    """The id of a run that already completed (for get, resume and logs)."""
    run = client.agent_runs.create("Add a /health endpoint")
    clock.advance(3600)
    assert client.agent_runs.get(run.id).status == "COMPLETE"
    return run.id
