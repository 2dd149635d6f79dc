"""Approval means approval: the feature graph as LangGraph Server runs it, in process.

The server builds the graph anew for every run (``studio.build_feature_graph``) and keeps
the thread in a shared checkpointer; Studio and ``langgraph_sdk`` resume an interrupted
thread with ``Command(resume=...)`` and no options. The options the thread started with
still hold: a rejection goes back to the code agent and then to the reviewer again, and
with no iteration left the thread ends ``rejected``, never ``passed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from codegen_graph import CodegenClient, studio
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen

TASK = "Add a /health endpoint that returns the service version"
OPTIONS = {"require_approval": True, "max_iterations": 2}


@pytest.fixture
def client() -> Iterator[CodegenClient]:
    with LocalCodegen(clock=ManualClock()) as backend, backend.client() as sync_client:
        yield sync_client


class Server:
    """What LangGraph Server does per run: a freshly built graph on the shared saver."""

    def __init__(self, client: CodegenClient) -> None:
        self.client = client
        self.saver = InMemorySaver()
        self.config: Any = {"configurable": {"thread_id": "thread-1"}}

    def run(self, payload: Any, context: dict[str, Any] | None = None) -> dict[str, Any]:
        graph = studio.build_feature_graph(self.config, client=self.client)
        graph.checkpointer = self.saver
        graph.invoke(payload, self.config, context=context)
        state = graph.get_state(self.config)
        return {
            "values": state.values,
            "interrupts": [i.value for t in state.tasks for i in t.interrupts],
        }


def _asks(out: dict[str, Any]) -> dict[str, Any]:
    assert "report" not in out["values"], out["values"].get("report")
    (question,) = out["interrupts"]
    assert question["question"] == "Approve the change?"
    # The reviewer sees the agents' summaries of the task, not their instructions.
    assert question["summaries"]["code"].startswith("Implemented: Add a /health endpoint")
    assert "agent" not in " ".join(str(v) for v in question["summaries"].values())
    return question  # type: ignore[no-any-return]


def test_approve(client: CodegenClient) -> None:
    server = Server(client)
    _asks(server.run({"task": TASK}, context=OPTIONS))
    done = server.run(Command(resume=True))
    assert done["values"]["report"]["verdict"] == "approved"
    assert done["values"]["iterations"].get("code", 1) == 1


def test_reject_then_approve(client: CodegenClient) -> None:
    server = Server(client)
    _asks(server.run({"task": TASK}, context=OPTIONS))
    again = server.run(Command(resume={"approve": False, "feedback": "rename the field"}))
    # The code agent got the feedback, the tests ran again, and the reviewer is asked again.
    question = _asks(again)
    assert again["values"]["iterations"]["code"] == 2
    code = again["values"]["runs"]["code"]
    assert code["result"].endswith("addressing the feedback: rename the field")
    assert question["summaries"]["code"].endswith("(revised)")
    done = server.run(Command(resume=True))
    assert done["values"]["report"]["verdict"] == "approved"


def test_reject_until_the_iterations_run_out(client: CodegenClient) -> None:
    server = Server(client)
    _asks(server.run({"task": TASK}, context=OPTIONS))
    _asks(server.run(Command(resume={"approve": False, "feedback": "rename the field"})))
    done = server.run(Command(resume={"approve": False, "feedback": "still wrong"}))
    assert done["interrupts"] == []
    report = done["values"]["report"]
    assert report["verdict"] == "rejected"
    assert report["iterations"]["code"] == 2, "no third iteration past max_iterations=2"
    assert client.agent_runs.get(report["agents"]["code"]["agent_run_id"]).status == "COMPLETE"


def test_a_rejection_without_feedback_ends_rejected(client: CodegenClient) -> None:
    server = Server(client)
    _asks(server.run({"task": TASK}, context=OPTIONS))
    done = server.run(Command(resume={"approve": False}))
    assert done["values"]["report"]["verdict"] == "rejected"
