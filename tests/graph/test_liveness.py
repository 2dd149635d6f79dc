"""Liveness under LangGraph 1.2's TimeoutPolicy: the wait nodes heartbeat on every watcher
tick; a run_timeout that fires is retried by codegen_retry_policy and re-attaches.

LangGraph measures node timeouts in real seconds, so these tests run the local backend on a
ScaledClock (250 simulated seconds per real second). The idle timeout is one real second (a
loaded CI machine can pause a process for a few tenths, so a shorter one would measure the
machine, not the heartbeats) and its run lasts four (1,000 simulated seconds); the run
timeout is 0.3 real seconds and its run lasts 1.2 (300 simulated seconds).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import NodeTimeoutError
from langgraph.graph import END, START, StateGraph
from langgraph.types import TimeoutPolicy

from codegen_graph import AsyncCodegenClient, CodegenClient, ConfigurationError
from codegen_graph.graph import (
    GraphState,
    codegen_node,
    codegen_retry_policy,
    codegen_wait_node,
    feature_workflow,
)
from codegen_graph.local import LocalCodegen, Outcome, RunContext

SCALE = 250.0
QUIET_RUN = 300.0  # simulated seconds without a single log entry until the final answer
LONG_QUIET_RUN = 1000.0


class QuietBehavior:
    """A run that writes nothing until it finishes: no log entry to count as progress."""

    def __init__(self, duration: float = QUIET_RUN) -> None:
        self.duration = duration

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(status="COMPLETE", result=f"done: {ctx.prompt}", duration=self.duration)


IDLE = TimeoutPolicy(idle_timeout=1.0, refresh_on="heartbeat")
CONFIG: Any = {"configurable": {"thread_id": "live-1"}}


def _graph(node: Any, *, timeout: TimeoutPolicy, retry: Any = None) -> Any:
    builder = StateGraph(GraphState)
    builder.add_node("code", node, timeout=timeout, retry_policy=retry)
    builder.add_edge(START, "code")
    builder.add_edge("code", END)
    return builder.compile(checkpointer=InMemorySaver())


async def test_an_idle_timeout_shorter_than_the_run_is_kept_alive_by_heartbeats() -> None:
    with LocalCodegen(time_scale=SCALE, behavior=QuietBehavior(LONG_QUIET_RUN)) as local:
        async with local.async_client() as client:
            graph = _graph(codegen_node("code", "Implement {task}", client=client), timeout=IDLE)
            state = await graph.ainvoke({"task": "x"}, CONFIG)
        stats = local.stats()
    assert state["runs"]["code"]["status"] == "COMPLETE"
    assert stats["runs_created"] == 1


async def test_without_heartbeats_the_same_wait_is_idle() -> None:
    """The control: a node that waits for the same run without heartbeats times out."""
    with LocalCodegen(time_scale=SCALE, behavior=QuietBehavior(LONG_QUIET_RUN)) as local:
        async with local.async_client() as client:

            async def silent(state: dict[str, Any]) -> dict[str, Any]:
                run = await client.agent_runs.start("Implement x")
                await run.wait()
                return {}

            with pytest.raises(NodeTimeoutError) as info:
                await _graph(silent, timeout=IDLE).ainvoke({"task": "x"}, CONFIG)
    assert info.value.kind == "idle"


class _Counted:
    def __init__(self, node: Any) -> None:
        self.node, self.calls = node, 0

    async def __call__(self, state: dict[str, Any], config: RunnableConfig) -> Any:
        self.calls += 1
        return await self.node(state, config)


RETRY = codegen_retry_policy(initial_interval=0.0, jitter=False, max_attempts=20)
RUN_CAP = TimeoutPolicy(run_timeout=0.3)


async def test_a_run_timeout_is_retried_and_reattaches_to_the_same_run() -> None:
    with LocalCodegen(time_scale=SCALE, behavior=QuietBehavior()) as local:
        async with local.async_client() as client:
            node = _Counted(codegen_node("code", "Implement {task}", client=client))
            graph = _graph(node, timeout=RUN_CAP, retry=RETRY)
            state = await graph.ainvoke({"task": "x"}, CONFIG)
        stats = local.stats()
    assert node.calls >= 2  # timed out at least once, then retried
    assert state["runs"]["code"]["status"] == "COMPLETE"
    assert (stats["runs_created"], stats["duplicates"]) == (1, 0)


async def test_a_wait_node_under_run_timeout_reattaches_from_state() -> None:
    with LocalCodegen(time_scale=SCALE, behavior=QuietBehavior()) as local:
        async with local.async_client() as client:
            wait = _Counted(codegen_wait_node("code", client=client))
            builder = StateGraph(GraphState)
            builder.add_node("code", codegen_node("code", "Do {task}", client=client, wait=False))
            builder.add_node("code_wait", wait, timeout=RUN_CAP, retry_policy=RETRY)
            builder.add_edge(START, "code")
            builder.add_edge("code", "code_wait")
            builder.add_edge("code_wait", END)
            graph = builder.compile(checkpointer=InMemorySaver())
            state = await graph.ainvoke({"task": "x"}, CONFIG)
        stats = local.stats()
    assert wait.calls >= 2
    assert state["runs"]["code"]["status"] == "COMPLETE"
    assert stats["runs_created"] == 1


async def test_the_feature_workflow_puts_the_policy_on_its_wait_nodes() -> None:
    with LocalCodegen(time_scale=SCALE) as local:
        async with local.async_client() as client:
            builder = feature_workflow(client=client, timeout_policy=IDLE)
            for role in ("code", "tests", "docs"):
                assert builder.nodes[f"{role}_wait"].timeout == IDLE
                assert builder.nodes[role].timeout is None


def test_the_feature_workflow_refuses_a_policy_on_sync_nodes() -> None:
    with LocalCodegen(time_scale=SCALE) as local, local.client() as client:
        assert isinstance(client, CodegenClient)
        with pytest.raises(ConfigurationError, match="AsyncCodegenClient"):
            feature_workflow(client=client, timeout_policy=IDLE)
    assert AsyncCodegenClient  # the fix the message names
