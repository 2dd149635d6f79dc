"""Print the LangSmith trace tree of the feature workflow, as captured by the local sink.

Runs the same setup as ``tests/observability/test_workflow_trace.py`` (the local backend
with the bundled ``tests_fail_once`` scenario, simulated time, tracing to a
``LangSmithSink`` on 127.0.0.1) and renders what the sink received. The picture in
``docs/observability.md`` is this script's output::

    python tools/trace_tree.py
"""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.memory import InMemorySaver

from codegen_graph.clock import ManualClock
from codegen_graph.graph import codegen_retry_policy, feature_workflow
from codegen_graph.local import LocalCodegen
from codegen_graph.observability import LangSmithSink, Redactor, tracing


async def main() -> None:
    policy = codegen_retry_policy(initial_interval=0.001, jitter=False)
    with (
        LangSmithSink() as sink,
        LocalCodegen(clock=ManualClock(), scenario="tests_fail_once") as local,
    ):
        async with local.async_client() as client:
            graph = feature_workflow(client=client, retry_policy=policy).compile(
                checkpointer=InMemorySaver(), name="feature"
            )
            with tracing(endpoint=sink.url, api_key="local-sink", redactor=Redactor()):
                await graph.ainvoke(
                    {"task": "Add a /health endpoint"}, {"configurable": {"thread_id": "t"}}
                )
        print(sink.render_tree(metadata_keys=("agent_run_id", "status", "role")))


if __name__ == "__main__":
    asyncio.run(main())
