"""The typed-result graph of the crash test, run in a child process (and resumed in the test).

``python tests/graph/_typed_crash.py CHECKPOINT_DB THREAD`` with the server's
``CODEGEN_API_TOKEN``, ``CODEGEN_ORG_ID`` and ``CODEGEN_API_BASE_URL`` in the environment.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field

from codegen_graph import CodegenClient
from codegen_graph.graph import GraphState, codegen_node

TASK = "Implement a typed health endpoint"


class Change(BaseModel):
    files_changed: list[str] = Field(min_length=1)
    risk: str = "low"


def client_from_env() -> CodegenClient:
    return CodegenClient(
        os.environ["CODEGEN_API_TOKEN"],
        int(os.environ["CODEGEN_ORG_ID"]),
        base_url=os.environ["CODEGEN_API_BASE_URL"],
    )


def run(client: CodegenClient, db: str, thread: str, *, resume: bool) -> dict[str, Any]:
    builder = StateGraph(GraphState)
    builder.add_node("code", codegen_node("code", TASK, client=client, output_schema=Change))
    builder.add_edge(START, "code")
    builder.add_edge("code", END)
    config: Any = {"configurable": {"thread_id": thread}}
    with SqliteSaver.from_conn_string(db) as saver:
        graph = builder.compile(checkpointer=saver)
        return dict(graph.invoke(None if resume else {"task": TASK}, config))


if __name__ == "__main__":
    with client_from_env() as main_client:
        run(main_client, sys.argv[1], sys.argv[2], resume=False)
