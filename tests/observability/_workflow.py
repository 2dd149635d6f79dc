"""Running the feature workflow on the local backend for the observability tests."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from codegen_graph import AsyncCodegenClient
from codegen_graph.graph import codegen_retry_policy, feature_workflow

TASK = "Add a /health endpoint that returns the service version"

#: What the local backend knows as the route names of ``stats()``, as API path templates.
ROUTES = {
    "create": "/v1/organizations/{org_id}/agent/run",
    "resume": "/v1/organizations/{org_id}/agent/run/resume",
    "get": "/v1/organizations/{org_id}/agent/run/{agent_run_id}",
    "list": "/v1/organizations/{org_id}/agent/runs",
    "logs": "/v1/alpha/organizations/{org_id}/agent/run/{agent_run_id}/logs",
}


def compile_feature(client: AsyncCodegenClient, *, store: Any = None, **kw: Any) -> Any:
    """The feature workflow with fast node retries, an in-memory checkpointer, named 'feature'."""
    policy = codegen_retry_policy(initial_interval=0.001, jitter=False)
    return feature_workflow(client=client, retry_policy=policy, **kw).compile(
        checkpointer=InMemorySaver(), store=store, name="feature"
    )


async def run_feature(graph: Any, task: str = TASK, thread: str = "t1") -> dict[str, Any]:
    """Run the workflow to its end and return the final state values."""
    config = {"configurable": {"thread_id": thread}}
    await graph.ainvoke({"task": task}, config, durability="sync")
    return dict((await graph.aget_state(config)).values)


def scenario(*, code_result: str, tests_failure: str) -> dict[str, Any]:
    """A scenario: the tests agent fails once with ``tests_failure``, then passes."""
    return {
        "name": "planted",
        "rules": [
            {
                "role": "tests",
                "count": "pattern",
                "attempts": [
                    {"status": "FAILED", "duration": 30, "result": tests_failure},
                    {"status": "COMPLETE", "duration": 30, "result": "TESTS PASSED: 12 passed."},
                ],
            },
            {
                "role": "code",
                "count": "run",
                "attempts": [{"status": "COMPLETE", "duration": 60, "result": code_result}],
            },
        ],
    }
