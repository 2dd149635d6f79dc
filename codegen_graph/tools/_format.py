"""The short text a model reads back from a tool (the ``ToolMessage`` content).

Content is what the model needs to act: ids, statuses, an excerpt of the result, pull
request links, the web URL, and what to call next. The full wire model always travels
beside it as the message's artifact, so nothing is lost by keeping the content short.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from ..models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    Page,
    RepoResponse,
)

__all__ = [
    "TypedAgentRunResponse",
    "describe_logs",
    "describe_repos",
    "describe_run",
    "describe_runs",
    "excerpt",
]

#: Characters of one log entry's text shown in a log listing.
_ENTRY_CHARS = 300


class TypedAgentRunResponse(AgentRunResponse):
    """The run tool's artifact with ``output_schema``: the run plus its validated object.

    Attributes:
        output: the ``output_schema`` instance parsed from the final answer (``None`` when
            the run did not end ``COMPLETE``).
        output_attempts: how many answers it took (1: the first one was valid).
    """

    output: Any = None
    output_attempts: int = 1


def excerpt(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (with a marker), and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + " [...]", True


def _status(status: Any) -> str:
    return status.raw if status is not None else "UNKNOWN"


def describe_run(run: AgentRunResponse, *, max_result_chars: int) -> str:
    """A few lines on one run: status, result (excerpt), pull requests, web URL, next step,
    and the validated object of a :class:`TypedAgentRunResponse`."""
    status = run.status
    lines = [f"Agent run {run.id}: {_status(status)}."]
    if status is None or not status.is_terminal:
        lines.append(
            f"It is still working. Check it later with codegen_get_agent_run "
            f"(agent_run_id={run.id}, wait=true)."
        )
    if run.result:
        text, cut = excerpt(run.result, max_result_chars)
        lines.append(f"Result: {text}")
        if cut:
            lines.append(
                f"(Result truncated to {max_result_chars} of {len(run.result)} characters; "
                "the full result is in the tool artifact.)"
            )
    elif run.summary:
        lines.append(f"Summary: {excerpt(run.summary, max_result_chars)[0]}")
    for pr in run.github_pull_requests or []:
        title = f"{pr.title}: " if pr.title else ""
        lines.append(f"Pull request: {title}{pr.url or '(no url)'}")
    if run.web_url:
        lines.append(f"Web: {run.web_url}")
    if status is not None and status.is_terminal:
        lines.append(
            f"To follow up on this run, call codegen_resume_agent_run with agent_run_id={run.id}."
        )
    if isinstance(run, TypedAgentRunResponse) and isinstance(run.output, BaseModel):
        name, data = type(run.output).__name__, run.output.model_dump_json()
        if len(data) > max_result_chars:
            data = data[:max_result_chars] + "... (cut; the whole object: artifact)"
        lines.append(f"Validated {name} (answer {run.output_attempts}): {data}")
    return "\n".join(lines)


def _listing(
    items: Sequence[Any],
    skip: int,
    line: Callable[[Any], str],
    title: str,
    empty: str,
    total: int | None = None,
    order: str = "",
) -> str:
    """A page of a listing: ``title`` and the range shown, one line per item, and with a
    ``total`` how to get the next page (``empty`` when there is none)."""
    if not items:
        return empty
    end = skip + len(items)
    of = "" if total is None else f" of {total}{order}"
    lines = [f"{title} {skip + 1}-{end}{of}:", *map(line, items)]
    if total is not None and end < total:
        lines.append(f"More: call again with skip={end}.")
    return "\n".join(lines)


def _run_line(run: AgentRunResponse) -> str:
    note = f" - {excerpt(run.result.replace(chr(10), ' '), 120)[0]}" if run.result else ""
    return f"- {run.id}: {_status(run.status)}{note}"


def describe_runs(page: Page[AgentRunResponse], *, skip: int) -> str:
    """One line per run of a page, newest first."""
    empty = f"No agent runs (total {page.total}, skip {skip})."
    return _listing(page.items, skip, _run_line, "Agent runs", empty, page.total, " (newest first)")


def _entry_text(entry: AgentRunLogResponse) -> str:
    parts: list[str] = []
    if entry.tool_name:
        parts.append(f"tool {entry.tool_name}")
    if entry.thought:
        parts.append(entry.thought)
    if entry.tool_input:
        parts.append(f"input {json.dumps(entry.tool_input, default=str)}")
    if entry.tool_output:
        parts.append(f"output {json.dumps(entry.tool_output, default=str)}")
    if entry.observation and not entry.tool_output and not entry.thought:
        parts.append(f"observation {json.dumps(entry.observation, default=str)}")
    return excerpt(" | ".join(parts).replace("\n", " "), _ENTRY_CHARS)[0]


def describe_logs(page: AgentRunWithLogsResponse, *, skip: int) -> str:
    """One line per log entry: its type and a short text."""
    total = page.total_logs if page.total_logs is not None else len(page.logs)
    head = f"Agent run {page.id}: {_status(page.status)}; {total} log entries."
    empty = f"{head} None in this range (skip {skip})."
    return _listing(page.logs, skip, _log_line, f"{head} Entries", empty)


def _log_line(entry: AgentRunLogResponse) -> str:
    stamp = f"{entry.created_at} " if entry.created_at else ""
    return f"- {stamp}{entry.message_type or 'LOG'}: {_entry_text(entry)}"


def _repo_line(repo: RepoResponse) -> str:
    lang = f", {repo.language}" if repo.language else ""
    return f"- repo_id={repo.id}: {repo.full_name}{lang}"


def describe_repos(page: Page[RepoResponse], *, skip: int) -> str:
    """One line per repository, with the id to pass as ``repo_id``."""
    empty = f"No repositories (total {page.total}, skip {skip})."
    return _listing(page.items, skip, _repo_line, "Repositories", empty, page.total)
