"""LangSmith tracing end to end, against the local sink: tree, metadata, redaction."""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import langsmith
import pytest
from langgraph.graph import END, START, StateGraph
from langsmith import traceable

from codegen_graph.models import AgentRunLogResponse, AgentRunResponse, GithubPullRequestResponse
from codegen_graph.observability import (
    LangSmithSink,
    Redactor,
    enable_tracing,
    flush_tracing,
    trace_log_entry,
    trace_operation,
    tracing,
    tracing_is_enabled,
)

CANARY = "canary-7f3a9c1e-do-not-leak"

LOGS = [
    AgentRunLogResponse(
        agent_run_id=7,
        created_at="2025-01-01T00:00:02Z",
        message_type="PLAN_EVALUATION",
        thought="read the code, then add the endpoint",
    ),
    AgentRunLogResponse(
        agent_run_id=7,
        created_at="2025-01-01T00:00:02Z",  # same instant: order must still hold
        message_type="ACTION",
        tool_name="read_file",
        thought="look at app.py",
        tool_input={"path": "app.py", "note": f"token {CANARY}"},
        tool_output={"content": "app = FastAPI()"},
    ),
    AgentRunLogResponse(
        agent_run_id=7,
        created_at="2025-01-01T00:00:01Z",  # earlier than the previous: order must still hold
        message_type="ACTION",
        tool_name="write_file",
        tool_input={"path": "app.py"},
        tool_output=None,
        observation="wrote 12 lines",
    ),
    AgentRunLogResponse(
        agent_run_id=7,
        created_at="2025-01-01T00:00:05Z",
        message_type="FINAL_ANSWER",
        observation="Added /health; PR opened.",
    ),
]

RUN = AgentRunResponse(
    id=7,
    organization_id=42,
    status="COMPLETE",
    web_url="https://codegen.example/agent/trace/7",
    github_pull_requests=[
        GithubPullRequestResponse(
            id=1, url="https://github.com/o/r/pull/1", created_at="2025-01-01"
        )
    ],
)


class State(TypedDict, total=False):
    prompt: str
    results: Annotated[list[str], operator.add]


def _code_node(state: State) -> dict[str, Any]:
    with trace_operation("codegen.create", inputs={"prompt": state["prompt"]}, role="code") as op:
        op.record_run(RUN.model_copy(update={"status": "PENDING"}))
    with trace_operation("codegen.wait", inputs={"agent_run_id": RUN.id}, role="code") as op:
        op.record_run(RUN)
        for i, entry in enumerate(LOGS):
            trace_log_entry(entry, index=i)  # parent: the current run (codegen.wait)
        op.set_outputs({"result": "done"})
    return {"results": ["done"]}


async def _acode_node(state: State) -> dict[str, Any]:
    async with trace_operation("codegen.wait", inputs={"agent_run_id": 7}, role="code") as op:
        op.record_run(RUN)
        await asyncio.sleep(0)
        op.log_entries(LOGS)
    return {"results": ["done"]}


def _graph(node: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("code_agent", node)
    builder.add_edge(START, "code_agent")
    builder.add_edge("code_agent", END)
    return builder.compile(name="feature")


@pytest.fixture(params=["multipart+zstd", "multipart", "batch"])
def sink(request: pytest.FixtureRequest) -> Iterator[LangSmithSink]:
    mode = request.param
    with LangSmithSink(multipart=mode != "batch", compression=mode == "multipart+zstd") as s:
        yield s


def _assert_feature_tree(sink: LangSmithSink) -> None:
    (root,) = [n for n in sink.tree() if n.name == "feature"]
    (node,) = root.children
    assert node.name == "code_agent"
    assert [c.name for c in node.children] == ["codegen.create", "codegen.wait"]
    create, wait = node.children
    assert create.metadata["status"] == "PENDING"
    meta = wait.metadata
    assert meta["agent_run_id"] == 7
    assert meta["org_id"] == 42
    assert meta["status"] == "COMPLETE"
    assert meta["role"] == "code"
    assert meta["web_url"] == "https://codegen.example/agent/trace/7"
    assert meta["pr_urls"] == ["https://github.com/o/r/pull/1"]
    steps = wait.children
    assert [(s.name, s.run_type) for s in steps] == [
        ("plan_evaluation", "chain"),
        ("read_file", "tool"),
        ("write_file", "tool"),
        ("final_answer", "chain"),
    ]
    assert [s.metadata["log_index"] for s in steps] == [0, 1, 2, 3]
    assert steps[1].run["inputs"]["path"] == "app.py"
    assert steps[1].run["outputs"] == {"content": "app = FastAPI()"}
    assert steps[2].run["outputs"] == {"observation": "wrote 12 lines"}
    assert steps[3].run["outputs"] == {"observation": "Added /health; PR opened."}
    assert all(s.run.get("end_time") for s in steps)


def _await_compression_decision(client: langsmith.Client, sink: LangSmithSink) -> None:
    """LangSmith's tracing thread reads ``GET /info`` after the client is made and only then
    turns compression on; runs created before that go out uncompressed. Wait for the
    decision so that the zstd case is about the sink, not about thread scheduling."""
    if not sink.compression:
        return
    deadline = time.monotonic() + 30
    while client.compressed_traces is None:
        assert time.monotonic() < deadline, "LangSmith never turned compression on"
        time.sleep(0.005)


def test_graph_node_operations_and_remote_steps_nest_and_redact(sink: LangSmithSink) -> None:
    with tracing(endpoint=sink.url, api_key="fake-key", redactor=Redactor([CANARY])) as client:
        _await_compression_decision(client, sink)
        _graph(_code_node).invoke({"prompt": f"Add /health. Secret: {CANARY}"})
    _assert_feature_tree(sink)
    assert sink.raw_payloads, "nothing was captured"
    assert not sink.contains(CANARY)
    assert sink.contains("[REDACTED]")
    compressed = [r for r in sink.requests if r.headers.get("Content-Encoding") == "zstd"]
    assert bool(compressed) == sink.compression


def test_without_the_redactor_the_canary_is_captured() -> None:
    """The negative control: the canary test above can fail."""
    with LangSmithSink() as sink:
        with tracing(endpoint=sink.url, api_key="fake-key", redactor=Redactor(patterns=())):
            _graph(_code_node).invoke({"prompt": f"Secret: {CANARY}"})
        assert sink.contains(CANARY)


def test_traceable_functions_nest(sink: LangSmithSink) -> None:
    @traceable(name="inner")
    def inner(x: int) -> int:
        with trace_operation("codegen.resume", inputs={"x": x}) as op:
            op.add_metadata(agent_run_id=9)
        return x + 1

    @traceable(name="outer")
    def outer(x: int) -> int:
        return inner(x) * 2

    with tracing(endpoint=sink.url, api_key="fake-key"):
        assert outer(1) == 4
    assert sink.render_tree() == (
        "outer [chain]\n└── inner [chain]\n    └── codegen.resume [chain] agent_run_id=9"
    )
    (resume,) = sink.find("codegen.resume")
    assert resume.run["inputs"] == {"x": 1}


def test_environment_variables_drive_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    from langsmith import utils as ls_utils

    with LangSmithSink() as sink:
        monkeypatch.setenv("LANGSMITH_TRACING", "true")
        monkeypatch.setenv("LANGSMITH_ENDPOINT", sink.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", "fake-env-key")
        monkeypatch.setenv("LANGSMITH_PROJECT", "env-project")
        ls_utils.get_env_var.cache_clear()
        ls_utils.get_tracer_project.cache_clear()
        assert tracing_is_enabled()
        _graph(_code_node).invoke({"prompt": "Add /health"})
        flush_tracing()
    _assert_feature_tree(sink)
    assert {r.get("session_name") for r in sink.runs.values()} == {"env-project"}


def test_enable_tracing_in_code_sets_project_and_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    from codegen_graph.observability import disable_tracing

    assert not tracing_is_enabled()
    with LangSmithSink() as sink:
        enable_tracing(endpoint=sink.url, api_key="fake-key", project="in-code")
        try:
            assert tracing_is_enabled()
            _graph(_code_node).invoke({"prompt": "x"})
        finally:
            disable_tracing()
        assert not tracing_is_enabled()
        _assert_feature_tree(sink)
        assert {r.get("session_name") for r in sink.runs.values()} == {"in-code"}


async def test_async_node_nests(sink: LangSmithSink) -> None:
    with tracing(endpoint=sink.url, api_key="fake-key"):
        await _graph(_acode_node).ainvoke({"prompt": "x"})
    (wait,) = sink.find("codegen.wait")
    assert [c.name for c in wait.children] == [
        "plan_evaluation",
        "read_file",
        "write_file",
        "final_answer",
    ]
    assert sink.render_tree().splitlines()[:3] == [
        "feature [chain]",
        "└── code_agent [chain]",
        "    └── codegen.wait [chain] agent_run_id=7 status=COMPLETE",
    ]


def test_operation_errors_are_recorded_redacted() -> None:
    with LangSmithSink() as sink:
        with (
            tracing(endpoint=sink.url, api_key="fake-key", redactor=Redactor([CANARY])),
            pytest.raises(RuntimeError),
            trace_operation("codegen.create"),
        ):
            raise RuntimeError(f"server said: bad token {CANARY}")
        (run,) = sink.find("codegen.create")
        assert "RuntimeError" in run.run["error"]
        assert "[REDACTED]" in run.run["error"]
        assert not sink.contains(CANARY)


def test_error_log_entries_mark_the_step_failed() -> None:
    entry = AgentRunLogResponse(agent_run_id=7, message_type="ERROR", observation="sandbox crashed")
    with LangSmithSink() as sink:
        with tracing(endpoint=sink.url, api_key="fake-key"), trace_operation("codegen.wait"):
            trace_log_entry(entry)
        (step,) = sink.find("error")
        assert step.run["error"] == "sandbox crashed"
        assert "!error" in sink.render_tree()


def test_tracing_off_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    import langsmith.run_helpers

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("trace() must not be built when tracing is off")

    monkeypatch.setattr(langsmith.run_helpers, "trace", boom)
    assert not tracing_is_enabled()
    with trace_operation("codegen.create", inputs={"prompt": "x"}) as op:
        assert not op.enabled
        op.record_run(RUN)
        op.add_metadata(a=1)
        op.set_outputs({"a": 1})
        assert op.log_entries(LOGS) == 0
    assert trace_log_entry(LOGS[0]) is None
    assert _graph(_code_node).invoke({"prompt": "x"}) == {"prompt": "x", "results": ["done"]}
