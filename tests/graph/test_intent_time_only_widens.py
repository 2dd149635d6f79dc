"""A key's lookup only widens: a retry never reads back less far than the first attempt.

Issue 21, case 2: process A created the code run and died before the node finished; ten
minutes and 1,000 other runs later process B resumed the thread; B's first attempt was cut
mid-scan (a ``TimeoutPolicy``) and retried by ``codegen_retry_policy()``; the retry looked
back only to its own first attempt, missed A's run and created a second one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from langgraph.errors import NodeTimeoutError

from codegen_graph import CodegenClient
from codegen_graph._keys import INTENTS
from codegen_graph.clock import ManualClock
from codegen_graph.graph import codegen_node
from codegen_graph.local import LocalCodegen

from .test_exactly_once import Slow, busy_wait_node, graph_with, seed

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "a process creates the code run and dies before the node finishes; ten minutes and "
    "1,000 newer runs later a new process resumes the thread, its first attempt is cut "
    "mid-lookup and retried: the retry finds the run, one run in all"
)


class CutMidScan(httpx.BaseTransport):
    """The backend, except that the 5th run-list read of the first attempt never answers:
    LangGraph's ``TimeoutPolicy`` cuts the node there (raised here as its error)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.lists = inner, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/agent/runs"):
            self.lists += 1
            if self.lists == 5:
                raise NodeTimeoutError("code", 60.0, kind="run", run_timeout=60.0)
        return self.inner.handle_request(request)


def test_a_retry_after_a_crash_and_1000_newer_runs_still_finds_the_run() -> None:
    clock = ManualClock()
    config: Any = {"configurable": {"thread_id": "t-widen"}}
    with LocalCodegen(clock=clock, behavior=Slow(), rate_limits=False) as local:
        with local.client() as a:  # process A: launches, then dies before the checkpoint
            graph = graph_with(busy_wait_node(local, a, crash=True), retry=False)
            saver = graph.checkpointer
            with contextlib.suppress(RuntimeError):
                graph.invoke({"task": "Add /health"}, config)
        seed(local, 1000 - 150)  # busy_wait_node landed 150 already: 1,000 newer runs
        clock.advance(600.0)  # ten minutes later...
        INTENTS.clear()  # ...process B: nothing remembered
        transport = CutMidScan(local.transport())
        with CodegenClient(
            local.token, local.org_id, base_url=local.base_url, transport=transport, clock=clock
        ) as b:
            again = graph_with(codegen_node("code", "Implement: {task}", client=b), retry=True)
            again.checkpointer = saver
            out = again.invoke(None, config)
        assert transport.lists > 5  # the first attempt was cut, the retry scanned again
        assert out["runs"]["code"]["status"] == "COMPLETE"
        stats = local.stats()
        assert stats["runs_created"] == 1001 and stats["duplicates"] == 0
