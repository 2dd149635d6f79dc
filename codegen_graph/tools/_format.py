"""The short text a model reads back from a tool (the ``ToolMessage`` content).

Content is what the model needs to act: ids, statuses, an excerpt of the result, pull
request links, the web URL, and what to call next. The full wire model always travels
beside it as the message's artifact, so nothing is lost by keeping the content short.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    Page,
    RepoResponse,
)

__all__ = ["describe_logs", "describe_repos", "describe_run", "describe_runs", "excerpt"]

#: Characters of one log entry's text shown in a log listing.
_ENTRY_CHARS = 300


def excerpt(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (with a marker), and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + " [...]", True


def _status(status: Any) -> str:
    return status.raw if status is not None else "UNKNOWN"


def describe_run(run: AgentRunResponse, *, max_result_chars: int) -> str:
    """A few lines on one run: status, result (excerpt), pull requests, web URL, next step."""
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
    return "\n".join(lines)


def _describe_page(
    page: Page[Any], skip: int, noun: str, title: str, line: Callable[[Any], str], order: str = ""
) -> str:
    """A page of a listing: a heading, one line per item, how to get the next page."""
    if not page.items:
        return f"No {noun} (total {page.total}, skip {skip})."
    end = skip + len(page.items)
    lines = [f"{title} {skip + 1}-{end} of {page.total}{order}:"]
    lines += [line(item) for item in page.items]
    if end < page.total:
        lines.append(f"More: call again with skip={end}.")
    return "\n".join(lines)


def _run_line(run: AgentRunResponse) -> str:
    note = f" - {excerpt(run.result.replace(chr(10), ' '), 120)[0]}" if run.result else ""
    return f"- {run.id}: {_status(run.status)}{note}"


def describe_runs(page: Page[AgentRunResponse], *, skip: int) -> str:
    """One line per run of a page, newest first."""
    return _describe_page(page, skip, "agent runs", "Agent runs", _run_line, " (newest first)")


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
    if not page.logs:
        return f"{head} None in this range (skip {skip})."
    lines = [f"{head} Entries {skip + 1}-{skip + len(page.logs)}:"]
    for entry in page.logs:
        stamp = f"{entry.created_at} " if entry.created_at else ""
        lines.append(f"- {stamp}{entry.message_type or 'LOG'}: {_entry_text(entry)}")
    return "\n".join(lines)


def _repo_line(repo: RepoResponse) -> str:
    lang = f", {repo.language}" if repo.language else ""
    return f"- repo_id={repo.id}: {repo.full_name}{lang}"


def describe_repos(page: Page[RepoResponse], *, skip: int) -> str:
    """One line per repository, with the id to pass as ``repo_id``."""
    return _describe_page(page, skip, "repositories", "Repositories", _repo_line)
