"""Codegen errors as messages a model can act on.

A tool call that fails because of the Codegen API (a 429, a used-up quota, an unknown run
id, a run that is still going...) must not crash the agent loop: the model should read what
happened and decide what to do next. The idiomatic LangChain mechanism is
:class:`~langchain_core.tools.ToolException` plus ``BaseTool.handle_tool_error``: the tools
turn every :class:`~codegen_graph.CodegenError` into a :class:`CodegenToolError` whose
message is one actionable paragraph, and ``handle_tool_error=True`` (their default) makes
``BaseTool.run`` return it as a ``ToolMessage(status="error")``.

Anything else (``TypeError``, ``KeyError``, ...) is a programming error and still raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.tools import ToolException

from .._exceptions import (
    AgentRunFailedError,
    AgentRunLimitReachedError,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    CodegenError,
    ConfigurationError,
    NotFoundError,
    OutputValidationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    RunTimeoutError,
    ServerError,
    UnprocessableEntityError,
)
from ._format import excerpt

__all__ = ["CodegenToolError", "describe_error", "wrap_error"]

#: Characters of a failed run's result quoted in the error message.
_FAILED_RESULT_CHARS = 600


class CodegenToolError(ToolException):
    """A Codegen API error, reworded for a model (``str(self)``).

    Attributes:
        error: the original :class:`~codegen_graph.CodegenError` (also ``__cause__``).
    """

    def __init__(self, message: str, *, error: CodegenError) -> None:
        super().__init__(message)
        self.error = error


def _seconds(value: float | None, default: str) -> str:
    if value is None:
        return default
    return f"about {max(1, round(value))} seconds"


def _unprocessable(exc: UnprocessableEntityError) -> str:
    problems = []
    for item in exc.detail:
        loc = [str(part) for part in item.get("loc", []) if part != "body"]
        where = ".".join(loc) or "the request"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    listed = "; ".join(problems) if problems else exc.message
    return (
        f"The Codegen API rejected the arguments (HTTP 422): {listed}. "
        "Fix that argument and call the tool again."
    )


def _run_id(args: Mapping[str, Any]) -> str:
    run_id = args.get("agent_run_id")
    return f" {run_id}" if run_id is not None else ""


def describe_error(exc: CodegenError, tool_name: str, args: Mapping[str, Any]) -> str:
    """One actionable message for ``exc``, raised by ``tool_name`` called with ``args``."""
    if isinstance(exc, RunTimeoutError):
        run = exc.run
        rid = run.id if run is not None else args.get("agent_run_id")
        status = run.status.raw if run is not None and run.status is not None else "unfinished"
        return (
            f"Agent run {rid} is still {status}: the wait timed out, but the run goes on. "
            f"Call codegen_get_agent_run with agent_run_id={rid} later (wait=true to wait "
            "for it) instead of starting the work again."
        )
    if isinstance(exc, AgentRunFailedError):
        run = exc.run
        if run is None:
            return f"The agent run failed: {exc}."
        status = run.status.raw if run.status is not None else "FAILED"
        text = excerpt(run.result, _FAILED_RESULT_CHARS)[0] if run.result else "(no result)"
        where = f" Details: {run.web_url}." if run.web_url else ""
        return (
            f"Agent run {run.id} ended {status}. Result: {text}.{where} To try again with "
            f"guidance, call codegen_resume_agent_run with agent_run_id={run.id} and a prompt "
            "that says what to fix."
        )
    if isinstance(exc, OutputValidationError):
        rid = exc.run.id if exc.run is not None else args.get("agent_run_id")
        last = exc.attempts[-1].errors[:3] if exc.attempts else ()
        return (
            f"Agent run {rid} finished, but after {len(exc.attempts)} answer(s) its final "
            f"answer still had no valid JSON result ({'; '.join(last) or 'no details'}). Do "
            f"not start the work again: read the result with codegen_get_agent_run "
            f"agent_run_id={rid}, or resume it with codegen_resume_agent_run."
        )
    if isinstance(exc, RateLimitError):
        wait = _seconds(exc.retry_after, "about a minute")
        return f"Rate limited by the Codegen API (HTTP 429). Retry this call in {wait}."
    if isinstance(exc, AgentRunLimitReachedError):
        return (
            "The Codegen organization has reached its plan's agent-run quota (HTTP 402). "
            "Do not retry: no new agent run can start until the user upgrades the plan or "
            "the quota resets. Tell the user."
        )
    if isinstance(exc, AuthenticationError):
        return (
            "The Codegen API token was rejected (HTTP 401). Retrying will not help: tell the "
            "user to check the API token (CODEGEN_API_TOKEN)."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            "The Codegen API token has no access to this organization or resource (HTTP 403). "
            "Retrying will not help: tell the user to check the token and the organization "
            "id (CODEGEN_ORG_ID)."
        )
    if isinstance(exc, NotFoundError):
        if "agent_run_id" in args:
            return (
                f"There is no agent run{_run_id(args)} in this organization (HTTP 404). Check "
                "the id with codegen_list_agent_runs."
            )
        if args.get("repo_id") is not None:
            return (
                f"There is no repository {args['repo_id']} in this organization (HTTP 404). "
                "Check the id with codegen_list_repos, or omit repo_id."
            )
        return f"Not found (HTTP 404): {exc.message}."
    if isinstance(exc, UnprocessableEntityError):
        return _unprocessable(exc)
    if isinstance(exc, ConfigurationError | BadRequestError):
        return f"Invalid argument for {tool_name}: {exc}. Fix that argument and call again."
    if isinstance(exc, CircuitOpenError):
        return (
            "The Codegen API has failed repeatedly, so requests are paused for a while. "
            "Retry this call in about a minute; if it keeps failing, tell the user."
        )
    if isinstance(exc, ServerError | APIConnectionError):
        return (
            f"The Codegen API is unavailable ({exc}), even after retries. Retry this call "
            "in about a minute; if it keeps failing, tell the user."
        )
    if isinstance(exc, ResponseValidationError):
        return (
            f"The Codegen API sent an answer this client does not understand ({exc}). "
            "Retrying will probably not help: tell the user."
        )
    if isinstance(exc, APIStatusError):
        return f"The Codegen API answered with an error: {exc}."
    return f"Codegen error: {exc}."


def wrap_error(exc: CodegenError, tool_name: str, args: Mapping[str, Any]) -> CodegenToolError:
    """The :class:`CodegenToolError` to raise from a tool for ``exc``."""
    return CodegenToolError(describe_error(exc, tool_name, args), error=exc)
