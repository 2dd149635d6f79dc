"""What each Codegen error means in words: one table for the tools and the CLI.

Two audiences read the same exception tree (:mod:`codegen_graph._exceptions`): a model
calling a LangChain tool needs one actionable paragraph (what happened, whether to retry,
which tool to call next), a person at the terminal needs one short ``hint:`` line. Both
texts of a class stand side by side in :data:`ERROR_TEXTS`, so a new exception class is
worded once, for both, in one place; :mod:`codegen_graph.tools` and :mod:`codegen_graph.cli`
only present them (a ``ToolException``, a line on stderr).

The table needs nothing but the exception classes, so it sits in the wire layer, under both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._exceptions import (
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
from ._problems import describe_problems

__all__ = ["ERROR_TEXTS", "ErrorText", "cli_hint", "error_text", "tool_message"]

#: Characters of a failed run's result quoted in the model's message.
FAILED_RESULT_CHARS = 600

#: ``(exception, tool name, tool arguments) -> paragraph for a model``.
ToolText = Callable[[Any, str, Mapping[str, Any]], str]
#: ``exception -> one line for a person at the terminal``.
HintText = Callable[[Any], str]


class ErrorText(NamedTuple):
    """The two wordings of one exception class."""

    tool: ToolText
    """One actionable paragraph for a model that called a tool."""
    hint: HintText
    """One line for the CLI's ``hint:``."""


def _seconds(value: float | None, default: str) -> str:
    if value is None:
        return default
    return f"about {max(1, round(value))} seconds"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " [...]"


def _run_id(exc: Any, args: Mapping[str, Any]) -> Any:
    return exc.run.id if exc.run is not None else args.get("agent_run_id")


def _timeout(exc: RunTimeoutError, tool: str, args: Mapping[str, Any]) -> str:
    run = exc.run
    rid = _run_id(exc, args)
    status = run.status.raw if run is not None and run.status is not None else "unfinished"
    return (
        f"Agent run {rid} is still {status}: the wait timed out, but the run goes on. "
        f"Call codegen_get_agent_run with agent_run_id={rid} later (wait=true to wait "
        "for it) instead of starting the work again."
    )


def _failed(exc: AgentRunFailedError, tool: str, args: Mapping[str, Any]) -> str:
    run = exc.run
    if run is None:
        return f"The agent run failed: {exc}."
    status = run.status.raw if run.status is not None else "FAILED"
    text = _cut(run.result, FAILED_RESULT_CHARS) if run.result else "(no result)"
    where = f" Details: {run.web_url}." if run.web_url else ""
    return (
        f"Agent run {run.id} ended {status}. Result: {text}.{where} To try again with "
        f"guidance, call codegen_resume_agent_run with agent_run_id={run.id} and a prompt "
        "that says what to fix."
    )


def _output(exc: OutputValidationError, tool: str, args: Mapping[str, Any]) -> str:
    rid = _run_id(exc, args)
    last = exc.attempts[-1].errors[:3] if exc.attempts else ()
    return (
        f"Agent run {rid} finished, but after {len(exc.attempts)} answer(s) its final "
        f"answer still had no valid JSON result ({'; '.join(last) or 'no details'}). Do "
        f"not start the work again: read the result with codegen_get_agent_run "
        f"agent_run_id={rid}, or resume it with codegen_resume_agent_run."
    )


def _not_found(exc: NotFoundError, tool: str, args: Mapping[str, Any]) -> str:
    if "agent_run_id" in args:
        rid = args.get("agent_run_id")
        return (
            f"There is no agent run{f' {rid}' if rid is not None else ''} in this "
            "organization (HTTP 404). Check the id with codegen_list_agent_runs."
        )
    if args.get("repo_id") is not None:
        return (
            f"There is no repository {args['repo_id']} in this organization (HTTP 404). "
            "Check the id with codegen_list_repos, or omit repo_id."
        )
    return f"Not found (HTTP 404): {exc.message}."


def _unprocessable(exc: UnprocessableEntityError, tool: str, args: Mapping[str, Any]) -> str:
    listed = describe_problems(exc.detail, where="the request", drop=("body",)) or exc.message
    return (
        f"The Codegen API rejected the arguments (HTTP 422): {listed}. "
        "Fix that argument and call the tool again."
    )


def _unprocessable_hint(exc: UnprocessableEntityError) -> str:
    fields = describe_problems(exc.detail, where="", msg="", sep=", ")
    return f"the API rejected an argument ({fields})" if fields else "fix the arguments"


def _invalid(exc: CodegenError, tool: str, args: Mapping[str, Any]) -> str:
    return f"Invalid argument for {tool}: {exc}. Fix that argument and call again."


def _unavailable(exc: CodegenError, tool: str, args: Mapping[str, Any]) -> str:
    return (
        f"The Codegen API is unavailable ({exc}), even after retries. Retry this call "
        "in about a minute; if it keeps failing, tell the user."
    )


_UNAVAILABLE_HINT = "the API is unavailable or unreachable: try again later (check --base-url)"
_DEBUG_HINT = "rerun with --debug for details"


def _connection_hint(exc: APIConnectionError) -> str:
    if "SSL" in str(exc):
        return (
            "the TLS handshake failed: a local server (codegen-graph serve) speaks plain "
            "HTTP, so use an http:// --base-url for it"
        )
    return _UNAVAILABLE_HINT


def _rate_hint(exc: RateLimitError) -> str:
    wait = f" in {exc.retry_after:g} s" if exc.retry_after else " in a minute"
    return f"over the API's rate limit: try again{wait}"


def _run_hint(command: str) -> HintText:
    def hint(exc: Any) -> str:
        run_id = exc.run.id if exc.run is not None else "ID"
        return f"{command} {run_id}"

    return hint


def _fixed(text: str) -> Callable[..., str]:
    return lambda *_: text


#: Exception class -> its two wordings, most specific first; :func:`error_text` takes the
#: first row whose class matches (the classes are the leaves of one tree, so the order only
#: matters for the catch-all rows at the end).
ERROR_TEXTS: tuple[tuple[type[CodegenError], ErrorText], ...] = (
    (
        RunTimeoutError,
        ErrorText(_timeout, _run_hint("the run goes on; wait again with: codegen-graph runs wait")),
    ),
    (
        AgentRunFailedError,
        ErrorText(_failed, _run_hint("see what the agent did: codegen-graph runs logs")),
    ),
    (OutputValidationError, ErrorText(_output, _fixed(_DEBUG_HINT))),
    (
        RateLimitError,
        ErrorText(
            lambda exc, *_: (
                "Rate limited by the Codegen API (HTTP 429). Retry this call in "
                f"{_seconds(exc.retry_after, 'about a minute')}."
            ),
            _rate_hint,
        ),
    ),
    (
        AgentRunLimitReachedError,
        ErrorText(
            _fixed(
                "The Codegen organization has reached its plan's agent-run quota (HTTP 402). "
                "Do not retry: no new agent run can start until the user upgrades the plan "
                "or the quota resets. Tell the user."
            ),
            _fixed("the organisation's plan allows no more agent runs"),
        ),
    ),
    (
        AuthenticationError,
        ErrorText(
            _fixed(
                "The Codegen API token was rejected (HTTP 401). Retrying will not help: tell "
                "the user to check the API token (CODEGEN_API_TOKEN)."
            ),
            _fixed("the API rejected the token: check CODEGEN_API_TOKEN (or --token)"),
        ),
    ),
    (
        PermissionDeniedError,
        ErrorText(
            _fixed(
                "The Codegen API token has no access to this organization or resource "
                "(HTTP 403). Retrying will not help: tell the user to check the token and "
                "the organization id (CODEGEN_ORG_ID)."
            ),
            _fixed("the token has no access here: check CODEGEN_ORG_ID (or --org-id)"),
        ),
    ),
    (
        NotFoundError,
        ErrorText(
            _not_found,
            _fixed(
                "check the id and the organisation; `codegen-graph runs list` shows recent runs"
            ),
        ),
    ),
    (UnprocessableEntityError, ErrorText(_unprocessable, _unprocessable_hint)),
    (
        ConfigurationError,
        ErrorText(
            _invalid,
            _fixed("fix the value named above (add -h to the command to list its options)"),
        ),
    ),
    (BadRequestError, ErrorText(_invalid, _fixed(_DEBUG_HINT))),
    (
        CircuitOpenError,
        ErrorText(
            _fixed(
                "The Codegen API has failed repeatedly, so requests are paused for a while. "
                "Retry this call in about a minute; if it keeps failing, tell the user."
            ),
            _fixed(_UNAVAILABLE_HINT),
        ),
    ),
    (ServerError, ErrorText(_unavailable, _fixed(_UNAVAILABLE_HINT))),
    (APIConnectionError, ErrorText(_unavailable, _connection_hint)),
    (
        ResponseValidationError,
        ErrorText(
            lambda exc, *_: (
                f"The Codegen API sent an answer this client does not understand ({exc}). "
                "Retrying will probably not help: tell the user."
            ),
            _fixed("the API answered something unexpected: rerun with --debug and report it"),
        ),
    ),
    (
        APIStatusError,
        ErrorText(
            lambda exc, *_: f"The Codegen API answered with an error: {exc}.",
            lambda exc: _UNAVAILABLE_HINT if exc.is_transient else _DEBUG_HINT,
        ),
    ),
    (CodegenError, ErrorText(lambda exc, *_: f"Codegen error: {exc}.", _fixed(_DEBUG_HINT))),
)


def error_text(exc: CodegenError) -> ErrorText:
    """The row of :data:`ERROR_TEXTS` for ``exc`` (the ``CodegenError`` row at the least)."""
    for cls, text in ERROR_TEXTS:
        if isinstance(exc, cls):
            return text
    raise TypeError(f"not a CodegenError: {type(exc).__name__}")  # pragma: no cover


def tool_message(exc: CodegenError, tool_name: str, args: Mapping[str, Any]) -> str:
    """One actionable paragraph for a model: ``exc`` raised by ``tool_name`` with ``args``."""
    return error_text(exc).tool(exc, tool_name, args)


def cli_hint(exc: CodegenError) -> str:
    """One line telling a person at the terminal what to do about ``exc``."""
    return error_text(exc).hint(exc)
