"""The shared graph state and its reducers.

Everything in :class:`GraphState` is plain data (``dict``, ``list``, ``str``, ``int``,
``float``, ``bool``, ``None`` and LangChain messages), so every checkpointer can serialise it
(JSON or msgpack) and a thread can be resumed in another process.

The reducers are pure ``(left, right) -> merged`` functions; none of them mutates its inputs.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from typing_extensions import TypedDict

from .._status import AgentRunStatus
from ._messages import merge_messages

__all__ = [
    "ErrorRecord",
    "GraphState",
    "RunRecord",
    "merge_counters",
    "merge_dicts",
    "merge_runs",
]


class RunRecord(TypedDict, total=False):
    """What the graph knows about one Codegen agent run, keyed by node key in ``runs``.

    A node writes a record when it launches a run (before waiting, so the run id is
    checkpointed) and again as the run progresses and ends. All fields are optional so an
    update may carry only what changed; :func:`merge_runs` fills the rest from the record it
    merges into.
    """

    key: str
    """The node key the record is stored under (usually the role, e.g. ``"code"``)."""
    agent_run_id: int | None
    """The Codegen run id, once the run is created."""
    role: str
    """The agent's role: ``"code"``, ``"tests"``, ``"docs"``..."""
    status: str
    """The run status, canonical uppercase (``RUNNING``, ``COMPLETE``, ``FAILED``...)."""
    result: str | None
    """The agent's final answer."""
    summary: str | None
    """The agent's summary of what it did."""
    pr_urls: list[str]
    """Links to the pull requests the run opened or updated."""
    web_url: str | None
    """The run's page in the Codegen web app."""
    attempts: int
    """How many times the node tried to launch or attach (1 on a clean first try)."""
    iteration: int
    """Which pass of a feedback loop the record belongs to (resuming starts a new one)."""
    seq: int
    """Monotonic per-record update counter: within an iteration the higher one is newer."""
    created_at: float | None
    """When the run was created, seconds since the epoch."""
    updated_at: float | None
    """When this record was written, seconds since the epoch (tie-breaker after ``seq``)."""
    finished_at: float | None
    """When the run reached a terminal status, seconds since the epoch."""
    idempotency_key: str
    """The launch key (see :func:`codegen_graph.graph.launch_key`) stored in the run's
    metadata, so a re-executed node finds the run it already launched."""
    logs_seen: int
    """How many of the run's log entries were already streamed; a wait after a resume
    streams only the entries that came after them."""
    output: dict[str, Any] | None
    """The validated ``output_schema`` object of the run's answer, as JSON-safe data
    (``Model.model_validate(record["output"])`` rebuilds it); absent without a schema."""
    output_attempts: int
    """Which answer validated (1: the first one did). A wait that re-attached after a crash
    reads the repairs already sent from the run's log only when it has to repair again, so
    if the first answer it checks is valid it reports the answers it saw."""


class ErrorRecord(TypedDict, total=False):
    """One error a node recorded instead of (or before) raising."""

    node: str
    """The node that failed."""
    role: str
    """The agent role involved, if any."""
    key: str
    """The ``runs`` key involved, if any."""
    type: str
    """The exception class name."""
    message: str
    """The exception message (never a token)."""
    transient: bool
    """Whether trying again later could help."""
    iteration: int
    """The feedback-loop pass it happened in."""
    at: float
    """When, seconds since the epoch."""


def merge_runs(
    left: Mapping[str, RunRecord] | None, right: Mapping[str, RunRecord] | None
) -> dict[str, RunRecord]:
    """Merge run records key by key; a finished run never goes back to running by accident.

    For each key the newer record wins and the older one fills the fields the newer lacks.
    "Newer" is decided by, in order: ``iteration`` (a resumed run starts a new iteration,
    which may take a terminal record back to a non-terminal status), then whether the status
    is terminal (within one iteration, a terminal status always beats a non-terminal one,
    whatever order the updates arrive in), then ``seq``, then ``updated_at``. On a full tie
    the update (``right``) wins. Missing numbers count as 0; a missing status as
    non-terminal.

    The merge is idempotent (``merge_runs(merge_runs(a, b), b) == merge_runs(a, b)``) and,
    for complete records (the same fields on both sides), associative: it is a maximum.

    Examples:
        >>> done = {"code": {"status": "COMPLETE", "iteration": 0, "seq": 2}}
        >>> late = {"code": {"status": "RUNNING", "iteration": 0, "seq": 3}}
        >>> merge_runs(done, late)["code"]["status"]
        'COMPLETE'
        >>> resumed = {"code": {"status": "RUNNING", "iteration": 1, "seq": 0}}
        >>> merge_runs(done, resumed)["code"]["status"]
        'RUNNING'
    """
    merged: dict[str, RunRecord] = dict(left or {})
    for key, new in (right or {}).items():
        old = merged.get(key)
        merged[key] = RunRecord(**new) if old is None else _merge_record(old, new)
    return merged


def _rank(record: Mapping[str, Any]) -> tuple[int, bool, int, float]:
    status = record.get("status")
    terminal = isinstance(status, str) and AgentRunStatus(status).is_terminal
    return (
        _int(record.get("iteration")),
        terminal,
        _int(record.get("seq")),
        _float(record.get("updated_at")),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else 0.0


def _merge_record(old: RunRecord, new: RunRecord) -> RunRecord:
    winner, loser = (new, old) if _rank(new) >= _rank(old) else (old, new)
    return {**loser, **winner}


def merge_dicts(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge per-role dicts: new keys are added, and a role's dict is updated one level deep.

    Examples:
        >>> merge_dicts({"code": {"pr": 1, "summary": "a"}}, {"code": {"summary": "b"}})
        {'code': {'pr': 1, 'summary': 'b'}}
    """
    merged: dict[str, Any] = dict(left or {})
    for key, value in (right or {}).items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = {**old, **value}
        else:
            merged[key] = value
    return merged


def merge_counters(
    left: Mapping[str, int] | None, right: Mapping[str, int] | None
) -> dict[str, int]:
    """Merge counters by taking the maximum per key, so a replayed update cannot undo progress.

    Examples:
        >>> merge_counters({"code": 2, "tests": 1}, {"code": 1, "docs": 1})
        {'code': 2, 'tests': 1, 'docs': 1}
    """
    merged: dict[str, int] = dict(left or {})
    for key, value in (right or {}).items():
        merged[key] = max(merged[key], value) if key in merged else value
    return merged


class GraphState(TypedDict, total=False):
    """The state Codegen nodes share. Extend it by subclassing.

    Examples:
        >>> class MyState(GraphState, total=False):
        ...     reviewer_notes: str
    """

    task: str
    """The feature spec the agents work on."""
    messages: Annotated[list[AnyMessage], merge_messages]
    """The conversation; :func:`merge_messages` without a window (``add_messages``)."""
    runs: Annotated[dict[str, RunRecord], merge_runs]
    """Agent runs by node key; see :func:`merge_runs`."""
    artifacts: Annotated[dict[str, Any], merge_dicts]
    """Per role results (PR links, summaries, test reports...); see :func:`merge_dicts`."""
    errors: Annotated[list[ErrorRecord | dict[str, Any]], operator.add]
    """Errors, appended in the order they were recorded."""
    iterations: Annotated[dict[str, int], merge_counters]
    """Feedback-loop counters by role; see :func:`merge_counters`."""
    report: dict[str, Any] | None
    """The final report (PR links, summaries, run links, timings, iterations)."""
