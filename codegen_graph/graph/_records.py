"""Run records and the reports built from them (the feature and supervisor workflows').

A :class:`~codegen_graph.graph.RunRecord` is what a graph keeps of each agent run in
``state["runs"]``; both prebuilt workflows end with a report node that summarises those
records the same way, so the summary of one record, the deduplicated PR links and the
durations are written once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from ._fold import count_turns
from ._state import RunRecord

__all__ = ["all_pr_urls", "feature_report", "run_seconds", "supervisor_report"]


def run_seconds(record: RunRecord) -> float | None:
    """How long the run took, from its record (``None`` until it finished)."""
    started, finished = record.get("created_at"), record.get("finished_at")
    if started is None or finished is None:
        return None
    return round(finished - started, 3)


def all_pr_urls(runs: Mapping[str, RunRecord]) -> list[str]:
    """Every PR link of the runs, each once, in the order the runs were recorded."""
    urls: list[str] = []
    for record in runs.values():
        urls.extend(u for u in record.get("pr_urls") or [] if u not in urls)
    return urls


def _agent(record: RunRecord, *, with_role: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": record.get("role")} if with_role else {}
    entry.update(
        agent_run_id=record.get("agent_run_id"),
        status=record.get("status"),
        summary=record.get("summary"),
        web_url=record.get("web_url"),
        pr_urls=list(record.get("pr_urls") or []),
        seconds=run_seconds(record),
        iteration=record.get("iteration"),
    )
    return entry


def feature_report(state: Mapping[str, Any]) -> dict[str, Any]:
    """The feature workflow's ``report`` update: verdict, task, PRs, one entry per role."""
    runs: dict[str, RunRecord] = dict(state.get("runs") or {})
    return {
        "report": {
            "verdict": state.get("verdict") or "passed",
            "task": state.get("task"),
            "pr_urls": all_pr_urls(runs),
            "agents": {role: _agent(r, with_role=False) for role, r in runs.items()},
            "iterations": dict(state.get("iterations") or {}),
        }
    }


def supervisor_report(state: Mapping[str, Any]) -> dict[str, Any]:
    """The supervisor's ``report`` update: also its answer, turns and error count."""
    runs: dict[str, RunRecord] = dict(state.get("runs") or {})
    messages = list(state.get("messages") or [])
    final = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
    task = state.get("task") or next(
        (str(m.content) for m in messages if isinstance(m, HumanMessage)), None
    )
    return {
        "report": {
            "verdict": state.get("verdict") or "done",
            "task": task,
            "answer": final.text if final is not None else None,
            "turns": count_turns(messages),
            "pr_urls": all_pr_urls(runs),
            "agents": {key: _agent(rec, with_role=True) for key, rec in runs.items()},
            "iterations": dict(state.get("iterations") or {}),
            "errors": len(state.get("errors") or []),
        }
    }
