"""How the supervisor's state follows its tool calls: run records and errors.

``fold_tool_results`` is the ``record`` node of :func:`~codegen_graph.graph.supervisor_workflow`
(pure: the state and a timestamp in, a state update out); its ``report`` node is
``_records.supervisor_report``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from pydantic import ValidationError

from .. import IDEMPOTENCY_METADATA_KEY
from ..models import AgentRunResponse
from ..tools import ROLE_METADATA_KEY
from ._launch import run_record
from ._state import ErrorRecord, RunRecord

__all__ = ["count_turns", "fold_tool_results"]


def count_turns(messages: Sequence[AnyMessage]) -> int:
    """Model turns since the last human message."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        count += isinstance(message, AIMessage)
    return count


def _as_run(artifact: Any) -> AgentRunResponse | None:
    if isinstance(artifact, AgentRunResponse):
        return artifact
    if isinstance(artifact, Mapping) and "id" in artifact and "organization_id" in artifact:
        # An artifact that went through a checkpointer's JSON serialiser.
        try:
            return AgentRunResponse.model_validate(artifact)
        except ValidationError:  # some other tool's artifact that looks alike
            return None
    return None


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def fold_tool_results(state: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The state update for the last turn's tool results (the ``record`` node).

    Run artifacts become run records keyed ``f"{role}:{agent_run_id}"``: a new run starts at
    iteration 1, a resume starts the next iteration, a get keeps it; ``seq`` grows with each
    update, so :func:`~codegen_graph.graph.merge_runs` keeps the newest. Error tool messages
    are appended to ``errors``. Runs whose role is unknown (not delegated by a supervisor)
    are not recorded.
    """
    messages = list(state.get("messages") or [])
    start = next((i for i in range(len(messages) - 1, -1, -1) if _has_calls(messages[i])), None)
    if start is None:
        return {}
    calls = {c["id"]: c for c in messages[start].tool_calls if c.get("id")}
    known: dict[str, RunRecord] = dict(state.get("runs") or {})
    roles_by_run = {r.get("agent_run_id"): r.get("role") for r in known.values()}
    runs: dict[str, RunRecord] = {}
    artifacts: dict[str, Any] = {}
    iterations: dict[str, int] = {}
    errors: list[ErrorRecord] = []
    for message in messages[start + 1 :]:
        if not isinstance(message, ToolMessage) or message.tool_call_id not in calls:
            continue
        call = calls[message.tool_call_id]
        args = call.get("args") or {}
        if message.status == "error":
            role = args.get("role") or roles_by_run.get(args.get("agent_run_id"))
            run_id = args.get("agent_run_id")
            key = f"{role}:{run_id}" if role and run_id in roles_by_run else None
            errors.append(_error(message, call["name"], role, key, now))
            continue
        run = _as_run(message.artifact)
        if run is None:
            continue
        role = (run.metadata or {}).get(ROLE_METADATA_KEY) or roles_by_run.get(run.id)
        if not role:
            continue
        key = f"{role}:{run.id}"
        old = runs.get(key) or known.get(key)
        new = _record(
            key, str(role), run, old, resumed=call["name"] == "codegen_resume_agent_run", now=now
        )
        runs[key] = new
        roles_by_run[run.id] = role
        artifacts[str(role)] = {
            "agent_run_id": run.id,
            "result": run.result,
            "summary": run.summary,
            "pr_urls": new["pr_urls"],
            "web_url": run.web_url,
            "status": new["status"],
        }
        iterations[str(role)] = max(iterations.get(str(role), 0), new["iteration"])
    update: dict[str, Any] = {}
    if runs:
        update.update(runs=runs, artifacts=artifacts, iterations=iterations)
    if errors:
        update["errors"] = errors
    return update


def _has_calls(message: Any) -> bool:
    return isinstance(message, AIMessage) and bool(message.tool_calls)


def _record(
    key: str, role: str, run: AgentRunResponse, old: RunRecord | None, *, resumed: bool, now: float
) -> RunRecord:
    iteration = int((old or {}).get("iteration", 1)) + (1 if resumed and old else 0)
    terminal = run.status is not None and run.status.is_terminal
    started = (old or {}).get("created_at") or _epoch(run.created_at) or now
    record = run_record(
        key,
        role,
        run,
        iteration=iteration,
        idempotency_key=(run.metadata or {}).get(IDEMPOTENCY_METADATA_KEY),
        started_at=started,
        finished_at=now if terminal else None,
        now=now,
    )
    record["seq"] = int((old or {}).get("seq", -1)) + 1
    return record


def _error(message: ToolMessage, tool: str, role: Any, key: str | None, now: float) -> ErrorRecord:
    """An error tool message as an error record: the tool's name leads the message."""
    error = ErrorRecord(
        node="tools", type="ToolError", message=f"{tool}: {message.content}"[:1000], at=now
    )
    if role:
        error["role"] = str(role)
    if key:
        error["key"] = key
    return error
