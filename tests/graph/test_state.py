"""GraphState and its reducers: runs never regress, everything serialises."""

from __future__ import annotations

import copy
import json
from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph

from codegen_graph import AgentRunStatus
from codegen_graph.graph import (
    GraphState,
    RunRecord,
    merge_counters,
    merge_dicts,
    merge_runs,
)

# --- merge_runs examples -----------------------------------------------------------------


def test_a_late_running_update_does_not_overwrite_a_finished_run() -> None:
    done: dict[str, RunRecord] = {
        "code": {"status": "COMPLETE", "iteration": 0, "seq": 2, "result": "done"}
    }
    late: dict[str, RunRecord] = {
        "code": {"status": "RUNNING", "iteration": 0, "seq": 3, "web_url": "https://x/1"}
    }
    merged = merge_runs(done, late)
    assert merged["code"]["status"] == "COMPLETE"
    assert merged["code"]["result"] == "done"
    assert merged["code"]["web_url"] == "https://x/1"  # missing fields are filled in
    # Whatever the order the two updates arrive in.
    assert merge_runs(late, done)["code"]["status"] == "COMPLETE"


def test_a_new_iteration_may_reopen_a_finished_run_but_an_old_one_may_not() -> None:
    done: dict[str, RunRecord] = {"code": {"status": "COMPLETE", "iteration": 0, "seq": 5}}
    resumed: dict[str, RunRecord] = {"code": {"status": "RUNNING", "iteration": 1, "seq": 0}}
    assert merge_runs(done, resumed)["code"]["status"] == "RUNNING"
    assert merge_runs(resumed, done)["code"]["status"] == "RUNNING"


def test_within_an_iteration_seq_then_updated_at_decide() -> None:
    a: RunRecord = {"status": "PENDING", "seq": 1, "updated_at": 10.0}
    b: RunRecord = {"status": "RUNNING", "seq": 2, "updated_at": 5.0}
    c: RunRecord = {"status": "ACTIVE", "seq": 2, "updated_at": 6.0}
    assert merge_runs({"k": b}, {"k": a})["k"]["status"] == "RUNNING"
    assert merge_runs({"k": c}, {"k": b})["k"]["status"] == "ACTIVE"
    # Full tie: the update wins.
    assert merge_runs({"k": a}, {"k": {**a, "status": "QUEUED"}})["k"]["status"] == "QUEUED"


def test_status_spellings_are_understood() -> None:
    done: dict[str, RunRecord] = {"code": {"status": "completed", "seq": 1}}
    late: dict[str, RunRecord] = {"code": {"status": "running", "seq": 9}}
    assert merge_runs(done, late)["code"]["status"] == "completed"


def test_merge_runs_adds_keys_handles_none_and_mutates_nothing() -> None:
    left: dict[str, RunRecord] = {"code": {"status": "RUNNING", "seq": 1}}
    right: dict[str, RunRecord] = {"code": {"status": "COMPLETE", "seq": 2}, "docs": {"seq": 0}}
    snapshot = copy.deepcopy((left, right))
    merged = merge_runs(left, right)
    assert set(merged) == {"code", "docs"}
    assert (left, right) == snapshot
    merged["docs"]["seq"] = 7
    assert right["docs"]["seq"] == 0
    assert merge_runs(None, right) == right
    assert merge_runs(left, None) == left


def test_merge_dicts_updates_one_level_deep() -> None:
    left = {"code": {"pr": 1, "summary": "a"}, "tests": "raw"}
    merged = merge_dicts(left, {"code": {"summary": "b"}, "tests": {"ok": True}, "docs": 1})
    assert merged == {"code": {"pr": 1, "summary": "b"}, "tests": {"ok": True}, "docs": 1}
    assert left == {"code": {"pr": 1, "summary": "a"}, "tests": "raw"}


def test_merge_counters_take_the_maximum() -> None:
    assert merge_counters({"code": 2, "tests": 1}, {"code": 1, "docs": 3}) == {
        "code": 2,
        "tests": 1,
        "docs": 3,
    }
    assert merge_counters(None, {"a": 1}) == {"a": 1}


# --- merge_runs properties ---------------------------------------------------------------

STATUSES = ["PENDING", "running", "ACTIVE", "COMPLETE", "failed", "ERROR", "STOPPED", "NEW_ONE"]
statuses = st.sampled_from(STATUSES)


ITERATIONS = st.integers(0, 2)


def full_records(iteration: st.SearchStrategy[int] = ITERATIONS) -> Any:
    return st.fixed_dictionaries(
        {
            "status": statuses,
            "iteration": iteration,
            "seq": st.integers(0, 4),
            "updated_at": st.floats(0, 3, allow_nan=False),
            "result": st.text(max_size=3),
        }
    )


partial_records = st.fixed_dictionaries(
    {},
    optional={
        "status": statuses,
        "iteration": st.integers(0, 2),
        "seq": st.integers(0, 4),
        "result": st.text(max_size=3),
        "web_url": st.text(max_size=3),
    },
)


def terminal(record: RunRecord) -> bool:
    return "status" in record and AgentRunStatus(record["status"]).is_terminal


@settings(max_examples=200, deadline=None)
@given(st.lists(full_records(st.just(1)), min_size=1, max_size=8))
def test_property_terminal_never_regresses_within_an_iteration(updates: list[RunRecord]) -> None:
    state: dict[str, RunRecord] = {}
    was_terminal = False
    for update in updates:
        state = merge_runs(state, {"k": update})
        if was_terminal:
            assert terminal(state["k"])
        was_terminal = terminal(state["k"])


@settings(max_examples=200, deadline=None)
@given(st.lists(full_records(), min_size=1, max_size=6), st.randoms())
def test_property_final_iteration_and_terminality_do_not_depend_on_arrival_order(
    updates: list[RunRecord], rnd: Any
) -> None:
    shuffled = updates[:]
    rnd.shuffle(shuffled)
    one = reduce(merge_runs, [{"k": u} for u in updates], {})
    two = reduce(merge_runs, [{"k": u} for u in shuffled], {})
    last = max(u["iteration"] for u in updates)
    assert one["k"]["iteration"] == two["k"]["iteration"] == last
    finished_last = any(terminal(u) for u in updates if u["iteration"] == last)
    assert terminal(one["k"]) == terminal(two["k"]) == finished_last


@settings(max_examples=200, deadline=None)
@given(partial_records, partial_records)
def test_property_idempotent(a: RunRecord, b: RunRecord) -> None:
    once = merge_runs({"k": a}, {"k": b})
    assert merge_runs(once, {"k": b}) == once


@settings(max_examples=200, deadline=None)
@given(full_records(), full_records(), full_records())
def test_property_associative_for_complete_records(
    a: RunRecord, b: RunRecord, c: RunRecord
) -> None:
    left = merge_runs(merge_runs({"k": a}, {"k": b}), {"k": c})
    right = merge_runs({"k": a}, merge_runs({"k": b}, {"k": c}))
    assert left == right


# --- GraphState in a graph ---------------------------------------------------------------


def test_graph_state_in_a_compiled_graph_with_parallel_writers_and_checkpoints() -> None:
    def code(state: GraphState) -> dict[str, Any]:
        record: RunRecord = {
            "key": "code",
            "agent_run_id": 1,
            "role": "code",
            "status": "COMPLETE",
            "pr_urls": ["https://github.com/o/r/pull/1"],
            "iteration": 0,
            "seq": 2,
            "created_at": 1.5,
            "finished_at": 2.5,
            "idempotency_key": "cg1-abc",
        }
        return {
            "runs": {"code": record},
            "artifacts": {"code": {"summary": "did it"}},
            "messages": [AIMessage("did it", name="code", id="m-code")],
            "iterations": {"code": 1},
        }

    def tests(state: GraphState) -> dict[str, Any]:
        return {
            "runs": {"tests": {"key": "tests", "status": "FAILED", "seq": 1}},
            "artifacts": {"tests": {"failures": 2}},
            "errors": [{"node": "tests", "type": "AgentRunFailedError", "message": "2 failed"}],
        }

    def docs(state: GraphState) -> dict[str, Any]:
        return {
            "runs": {"docs": {"key": "docs", "status": "COMPLETE", "seq": 1}},
            "artifacts": {"code": {"docs_link": "https://d"}},
            "errors": [{"node": "docs", "type": "Warning", "message": "slow"}],
            "iterations": {"code": 0},
        }

    def report(state: GraphState) -> dict[str, Any]:
        return {"report": {"runs": sorted(state["runs"]), "errors": len(state["errors"])}}

    builder = StateGraph(GraphState)
    for name, fn in [("code", code), ("tests", tests), ("docs", docs), ("report", report)]:
        builder.add_node(name, fn)
    builder.add_edge(START, "code")
    builder.add_edge("code", "tests")
    builder.add_edge("code", "docs")
    builder.add_edge(["tests", "docs"], "report")
    builder.add_edge("report", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    out = graph.invoke({"task": "add /health", "messages": [HumanMessage("go", id="h")]}, config)

    assert set(out["runs"]) == {"code", "tests", "docs"}
    assert out["artifacts"]["code"] == {"summary": "did it", "docs_link": "https://d"}
    assert sorted(e["node"] for e in out["errors"]) == ["docs", "tests"]
    assert out["iterations"] == {"code": 1}
    assert out["report"] == {"runs": ["code", "docs", "tests"], "errors": 2}
    # Everything but the messages is plain JSON; the whole state survives the serializer.
    plain = {k: v for k, v in out.items() if k != "messages"}
    assert json.loads(json.dumps(plain)) == plain
    serde = JsonPlusSerializer()
    assert serde.loads_typed(serde.dumps_typed(out)) == out
    assert graph.get_state(config).values == out
