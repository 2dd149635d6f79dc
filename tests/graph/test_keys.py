"""launch_key: the same for a re-executed task, different for another one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from codegen_graph import ConfigurationError, RateLimitError
from codegen_graph.graph import codegen_retry_policy, launch_key


class State(TypedDict, total=False):
    n: int
    iteration: int


class Recorder:
    """A node that records its launch key (from runtime and from config) on every run."""

    def __init__(self, *, fail: list[BaseException] | None = None) -> None:
        self.fail = fail if fail is not None else []
        self.keys: list[str] = []
        self.checkpoint_ids: list[str] = []

    def __call__(self, state: State, config: RunnableConfig, runtime: Runtime[Any]) -> State:
        iteration = state.get("iteration", 0)
        key = launch_key(runtime, "launch", iteration)
        assert launch_key(config, "launch", iteration) == key
        # Without the runtime in the config, the task id and namespace keys give the same.
        bare = {**config, "configurable": dict(config["configurable"])}
        del bare["configurable"]["__pregel_runtime"]
        assert launch_key(bare, "launch", iteration) == key
        self.keys.append(key)
        assert runtime.execution_info is not None
        self.checkpoint_ids.append(runtime.execution_info.checkpoint_id)
        if self.fail:
            raise self.fail.pop(0)
        return {"n": state.get("n", 0) + 1}


def build(node: Recorder, *, retry: bool = False, loops: int = 1) -> StateGraph[State]:
    builder: StateGraph[State] = StateGraph(State)
    builder.add_node("prep", lambda state: {"n": 0})
    policy = codegen_retry_policy(initial_interval=0.001, jitter=False) if retry else None
    builder.add_node("launch", node, retry_policy=policy)
    builder.add_edge(START, "prep")
    builder.add_edge("prep", "launch")
    builder.add_conditional_edges("launch", lambda s: "launch" if s["n"] < loops else END)
    return builder


def thread(name: str) -> Any:
    return {"configurable": {"thread_id": name}}


def test_key_shape() -> None:
    node = Recorder()
    build(node).compile(checkpointer=InMemorySaver()).invoke({}, thread("t"))
    assert re.fullmatch(r"cg2-[0-9a-f]{40}", node.keys[0])


def test_a_retry_policy_retry_gets_the_same_key() -> None:
    node = Recorder(fail=[RateLimitError("slow down", status_code=429)] * 2)
    out = build(node, retry=True).compile(checkpointer=InMemorySaver()).invoke({}, thread("t"))
    assert out["n"] == 1
    assert len(node.keys) == 3
    assert len(set(node.keys)) == 1


def test_a_retry_without_checkpointer_gets_the_same_key_too() -> None:
    node = Recorder(fail=[RateLimitError("slow down", status_code=429)])
    build(node, retry=True).compile().invoke({})
    assert len(node.keys) == 2
    assert node.keys[0] == node.keys[1]


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_resuming_a_thread_after_the_node_raised_gets_the_same_key(durability: Any) -> None:
    node = Recorder(fail=[RuntimeError("worker died")])
    graph = build(node).compile(checkpointer=InMemorySaver())
    with pytest.raises(RuntimeError, match="worker died"):
        graph.invoke({}, thread("t"), durability=durability)
    out = graph.invoke(None, thread("t"), durability=durability)
    assert out["n"] == 1
    assert len(node.keys) == 2
    assert node.keys[0] == node.keys[1]
    assert node.checkpoint_ids[0] == node.checkpoint_ids[1]


def test_resuming_from_a_sqlite_checkpoint_in_a_fresh_graph_gets_the_same_key(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "checkpoints.sqlite")
    first = Recorder(fail=[RuntimeError("worker died")])
    with SqliteSaver.from_conn_string(db) as saver, pytest.raises(RuntimeError):
        build(first).compile(checkpointer=saver).invoke({}, thread("t"))
    # A new saver, a new compiled graph, a new node object: what a restarted process has.
    second = Recorder()
    with SqliteSaver.from_conn_string(db) as saver:
        out = build(second).compile(checkpointer=saver).invoke(None, thread("t"))
    assert out["n"] == 1
    assert first.keys == second.keys


def test_another_thread_iteration_or_superstep_gets_another_key() -> None:
    node = Recorder()
    graph = build(node, loops=2).compile(checkpointer=InMemorySaver())
    graph.invoke({}, thread("a"))  # runs "launch" twice: two supersteps
    graph.invoke({}, thread("b"))
    graph.invoke({"iteration": 1}, thread("c"))  # and another iteration number
    a1, a2, b1, *_ = node.keys
    assert len(set(node.keys)) == 6
    assert a1 != a2  # the loop's second pass is another task
    assert a1 != b1  # another thread


def test_iteration_and_node_change_the_key_for_the_same_task() -> None:
    seen: dict[str, str] = {}

    def launch(state: State, runtime: Runtime[Any]) -> State:
        seen["a0"] = launch_key(runtime, "launch", 0)
        seen["a1"] = launch_key(runtime, "launch", 1)
        seen["b0"] = launch_key(runtime, "other", 0)
        return {}

    builder: StateGraph[State] = StateGraph(State)
    builder.add_node("launch", launch)
    builder.add_edge(START, "launch")
    builder.add_edge("launch", END)
    builder.compile(checkpointer=InMemorySaver()).invoke({}, thread("t"))
    assert len(set(seen.values())) == 3


def test_outside_a_node_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="inside a running graph node"):
        launch_key({"configurable": {"thread_id": "t"}}, "launch", 0)
    with pytest.raises(ConfigurationError, match="inside a running graph node"):
        launch_key(Runtime(), "launch", 0)
    with pytest.raises(ConfigurationError, match="RunnableConfig or Runtime"):
        launch_key("t", "launch", 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("node", "iteration"), [("", 0), ("launch", -1), ("launch", True)])
def test_bad_node_or_iteration_is_a_configuration_error(node: str, iteration: int) -> None:
    config = {"configurable": {"__pregel_task_id": "x", "checkpoint_ns": "n:x"}}
    with pytest.raises(ConfigurationError):
        launch_key(config, node, iteration)


class LosingSaver(InMemorySaver):
    """A saver that loses every checkpoint while ``losing`` is set: what a crash leaves
    behind under ``durability="async"`` (checkpoints written in the background)."""

    losing = False

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        if self.losing:
            return {
                "configurable": {
                    "thread_id": config["configurable"]["thread_id"],
                    "checkpoint_ns": config["configurable"].get("checkpoint_ns", ""),
                    "checkpoint_id": checkpoint["id"],
                }
            }
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        if not self.losing:
            super().put_writes(config, writes, task_id, task_path)


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_the_same_step_re_run_from_an_earlier_checkpoint_gets_the_same_key(
    durability: Any,
) -> None:
    saver = LosingSaver()
    node = Recorder(fail=[RuntimeError("process killed")])
    builder: StateGraph[State] = StateGraph(State)

    def prep(state: State) -> State:
        saver.losing = True  # the checkpoint after this step never reaches the database
        return {"n": 0}

    builder.add_node("prep", prep)
    builder.add_node("launch", node)
    builder.add_edge(START, "prep")
    builder.add_edge("prep", "launch")
    builder.add_edge("launch", END)
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(RuntimeError, match="process killed"):
        graph.invoke({}, thread("t"), durability=durability)
    saver.losing = False
    # The restarted process resumes from the last checkpoint that was written (before
    # "prep"), so "prep" runs again and "launch" runs under a new checkpoint id.
    out = graph.invoke(None, thread("t"), durability=durability)
    assert out["n"] == 1
    assert node.checkpoint_ids[0] != node.checkpoint_ids[1]  # another checkpoint...
    assert node.keys[0] == node.keys[1]  # ...the same launch


def test_the_prompt_changes_the_key() -> None:
    seen: list[str] = []

    def launch(state: State, config: RunnableConfig) -> State:
        seen.append(launch_key(config, "launch", 0, prompt="Add /health"))
        seen.append(launch_key(config, "launch", 0, prompt="Add /ready"))
        seen.append(launch_key(config, "launch", 0, prompt="Add /health"))
        return {}

    builder: StateGraph[State] = StateGraph(State)
    builder.add_node("launch", launch)
    builder.add_edge(START, "launch")
    builder.add_edge("launch", END)
    builder.compile(checkpointer=InMemorySaver()).invoke({}, thread("t"))
    assert seen[0] == seen[2] != seen[1]


def test_without_a_thread_each_invocation_gets_its_own_key() -> None:
    node = Recorder()
    graph = build(node).compile()
    graph.invoke({})
    graph.invoke({})
    assert node.keys[0] != node.keys[1]
