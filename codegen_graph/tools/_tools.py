"""The seven Codegen tools: run, get, resume, stop, list runs, read logs, list repositories.

Each tool is its name, description, arguments and content; its work is written once in
``tools/_async/work.py`` (``tools/_sync/work.py`` is generated from it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from langchain_core.tools import ArgsSchema
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec
from ..models import AgentType
from ._async import work as async_work
from ._base import CodegenTool
from ._format import (
    TypedAgentRunResponse,
    describe_logs,
    describe_repos,
    describe_run,
    describe_runs,
)
from ._keys import current_tool_call_id, tool_call_key
from ._sync import work

__all__ = [
    "CodegenGetAgentRunLogsTool",
    "CodegenGetAgentRunTool",
    "CodegenListAgentRunsTool",
    "CodegenListReposTool",
    "CodegenResumeAgentRunTool",
    "CodegenRunAgentTool",
    "CodegenStopAgentRunTool",
    "TypedAgentRunResponse",
]

_RUN_ID = (
    "Id of the agent run, as returned by codegen_run_agent or listed by codegen_list_agent_runs."
)
_TIMEOUT = (
    "Seconds to wait at most (default: 30 minutes). If the run is not finished by then it "
    "keeps going and you get its id to check later with codegen_get_agent_run."
)


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The idempotency key of this tool call (see ._keys), computed on the invoking thread.
    _call_key: str | None = PrivateAttr(default=None)


class RunAgentArgs(ToolArgs):
    """Arguments of ``codegen_run_agent``."""

    prompt: str = Field(
        min_length=1,
        description=(
            "The complete task for the Codegen coding agent, in plain language: what to "
            "change, where, and how to check it (tests to run, behaviour expected). The agent "
            "works in the repository on its own and usually opens a pull request."
        ),
    )
    repo_id: int | None = Field(
        default=None,
        gt=0,
        description="Id of the repository to work in (see codegen_list_repos). Omit for the "
        "organization's default repository.",
    )
    model: str | None = Field(
        default=None,
        description="Model for the agent. Omit unless the user asked for a specific model.",
    )
    agent_type: AgentType | None = Field(
        default=None,
        description="Agent implementation: 'codegen' or 'claude_code'. Omit for the default.",
    )
    wait: bool = Field(
        default=True,
        description="True (default): wait until the run ends and return its result. False: "
        "return the new run's id at once; check it later with codegen_get_agent_run.",
    )
    timeout: float | None = Field(default=None, gt=0, description=_TIMEOUT)


class GetAgentRunArgs(ToolArgs):
    """Arguments of ``codegen_get_agent_run``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)
    wait: bool = Field(
        default=False,
        description="False (default): report the run's state now. True: wait until it ends.",
    )
    timeout: float | None = Field(default=None, gt=0, description=_TIMEOUT)


class ResumeAgentRunArgs(ToolArgs):
    """Arguments of ``codegen_resume_agent_run``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)
    prompt: str = Field(
        min_length=1,
        description="Follow-up instructions for the same agent, which keeps its context: "
        "review feedback, a failing test to fix, a change of plan.",
    )
    wait: bool = Field(
        default=True,
        description="True (default): wait until the agent is done again and return its "
        "result. False: return at once; check later with codegen_get_agent_run.",
    )
    timeout: float | None = Field(default=None, gt=0, description=_TIMEOUT)


class StopAgentRunArgs(ToolArgs):
    """Arguments of ``codegen_stop_agent_run``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)


class ListAgentRunsArgs(ToolArgs):
    """Arguments of ``codegen_list_agent_runs``."""

    limit: int = Field(default=10, ge=1, le=100, description="How many runs to list (1-100).")
    skip: int = Field(default=0, ge=0, description="How many of the newest runs to skip.")


class GetAgentRunLogsArgs(ToolArgs):
    """Arguments of ``codegen_get_agent_run_logs``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)
    limit: int = Field(default=20, ge=1, le=100, description="How many entries (1-100).")
    skip: int = Field(default=0, ge=0, description="How many entries to skip.")
    newest_first: bool = Field(
        default=False, description="True: the latest steps first. False: in order."
    )


class ListReposArgs(ToolArgs):
    """Arguments of ``codegen_list_repos``."""

    limit: int = Field(default=50, ge=1, le=100, description="How many repositories (1-100).")
    skip: int = Field(default=0, ge=0, description="How many repositories to skip.")


class _RunTool(CodegenTool):
    """A tool whose artifact is one run (``AgentRunResponse``)."""

    #: The kind of idempotency key each call carries inside a graph (see ``._keys``).
    _key_kind: ClassVar[Literal["run", "resume"] | None] = None

    def _params(self, kwargs: Mapping[str, Any]) -> BaseModel:
        params = super()._params(kwargs)
        if self._key_kind is not None and isinstance(params, ToolArgs):
            params._call_key = tool_call_key(self._key_kind, current_tool_call_id())
        return params

    def _content(self, artifact: Any, params: Any) -> str:
        return describe_run(artifact, max_result_chars=self.max_result_chars)


class CodegenRunAgentTool(_RunTool):
    """``codegen_run_agent``: start a Codegen agent run and (by default) wait for its result.

    While waiting, each new remote log entry is dispatched as a ``codegen_log`` custom
    event. A run that ends ``FAILED``/``ERROR``/``CANCELLED`` is an error message naming
    the status and result (with ``raise_on_failure=False``: a normal result whose content
    says the status and whose artifact is the failed run); a wait that times out is an
    error message with the run id (the run goes on).
    """

    name: str = "codegen_run_agent"
    description: str = (
        "Hand a coding task to a Codegen cloud agent, which works in the repository on its own "
        "(edits code, runs tests, opens a pull request). Returns the run id, status, result "
        "and pull request links. Use codegen_resume_agent_run for follow-ups on the same run."
    )
    args_schema: ArgsSchema | None = RunAgentArgs
    raise_on_failure: bool = True
    """Whether a run ending FAILED/ERROR/CANCELLED is an error (no artifact) or a result."""
    result_schema: type[BaseModel] | None = Field(default=None, exclude=True)
    """A pydantic model the agent's final answer must hold as a JSON object (pass it as
    ``output_schema=``; the field has another name because ``Runnable.output_schema`` is
    the tool's own output type): the prompt asks for it, an invalid answer resumes the run
    with the errors, and the artifact is a :class:`TypedAgentRunResponse` whose ``output``
    is the validated object. Set by the developer, never by the model."""
    output_attempts: int = Field(default=DEFAULT_OUTPUT_ATTEMPTS, ge=1)
    """Answers in all before the call is an error, the first one included."""
    _work = work.run_agent
    _awork = async_work.async_run_agent
    _key_kind = "run"

    def __init__(self, *, output_schema: type[BaseModel] | None = None, **kwargs: Any) -> None:
        if output_schema is not None:
            OutputSpec(output_schema)  # a clear ConfigurationError now, not at the first call
            kwargs["result_schema"] = output_schema
        super().__init__(**kwargs)

    def _task(self, params: Any) -> str:
        """The task the run is given, before ``result_schema``'s instructions."""
        return str(params.prompt)

    def _launch(self, params: Any) -> tuple[str, dict[str, Any]]:
        """The prompt (with ``result_schema``'s instructions) and ``create``'s arguments."""
        create = {"repo_id": params.repo_id, "model": params.model, "agent_type": params.agent_type}
        key = getattr(params, "_call_key", None)  # a subclass's args may not have one
        if key is not None:  # inside a graph: one run per tool call, ever
            create["idempotency_key"] = key
        if self.result_schema is None:
            return self._task(params), create
        spec = OutputSpec(self.result_schema, max_attempts=self.output_attempts)
        return spec.with_instructions(self._task(params)), create


class CodegenGetAgentRunTool(_RunTool):
    """``codegen_get_agent_run``: a run's status and result, optionally waiting for its end.

    A failed run is reported, not treated as an error: reading it succeeded. With
    ``wait=true``, log entries that appear while waiting are ``codegen_log`` events.
    """

    name: str = "codegen_get_agent_run"
    description: str = (
        "Get the status, result and pull request links of a Codegen agent run by id. Set "
        "wait=true to wait until a run that is still going has finished."
    )
    args_schema: ArgsSchema | None = GetAgentRunArgs
    _work = work.get_agent_run
    _awork = async_work.async_get_agent_run


class CodegenResumeAgentRunTool(_RunTool):
    """``codegen_resume_agent_run``: send a follow-up to a run and (by default) wait again.

    Progress events cover only the entries written after the follow-up was sent. A run that
    ends badly is an error message, or with ``raise_on_failure=False`` a normal result.
    """

    name: str = "codegen_resume_agent_run"
    description: str = (
        "Send follow-up instructions (review feedback, a failure to fix) to an existing "
        "Codegen agent run; the same agent continues with its context. Returns the new status, "
        "result and pull request links."
    )
    args_schema: ArgsSchema | None = ResumeAgentRunArgs
    raise_on_failure: bool = True
    """Whether a run ending FAILED/ERROR/CANCELLED is an error (no artifact) or a result."""
    _work = work.resume_agent_run
    _awork = async_work.async_resume_agent_run
    _key_kind = "resume"


class CodegenStopAgentRunTool(_RunTool):
    """``codegen_stop_agent_run``: stop a run (``POST .../agent/run/ban``) and report it.

    On Codegen's API stopping is banning all checks of the run, which stops its agent; a run
    that is already over keeps its status.
    """

    name: str = "codegen_stop_agent_run"
    description: str = (
        "Stop a Codegen agent run that is still going (a wrong task, or one no longer needed); "
        "it ends STOPPED. Returns the run's status."
    )
    args_schema: ArgsSchema | None = StopAgentRunArgs
    _work = work.stop_agent_run
    _awork = async_work.async_stop_agent_run


class CodegenListAgentRunsTool(CodegenTool):
    """``codegen_list_agent_runs``: the organization's runs, newest first (one page)."""

    name: str = "codegen_list_agent_runs"
    description: str = (
        "List the organization's Codegen agent runs, newest first, with id, status and a "
        "short result. Use it to find a run id."
    )
    args_schema: ArgsSchema | None = ListAgentRunsArgs
    _work = work.list_agent_runs
    _awork = async_work.async_list_agent_runs

    def _content(self, artifact: Any, params: Any) -> str:
        return describe_runs(artifact, skip=params.skip)


class CodegenGetAgentRunLogsTool(CodegenTool):
    """``codegen_get_agent_run_logs``: one page of a run's steps (plans, tool calls, answers)."""

    name: str = "codegen_get_agent_run_logs"
    description: str = (
        "Read the steps a Codegen agent run took (its plan, tool calls and their outputs, "
        "final answer), to see what it did or why it failed."
    )
    args_schema: ArgsSchema | None = GetAgentRunLogsArgs
    _work = work.get_agent_run_logs
    _awork = async_work.async_get_agent_run_logs

    def _content(self, artifact: Any, params: Any) -> str:
        return describe_logs(artifact, skip=params.skip)


class CodegenListReposTool(CodegenTool):
    """``codegen_list_repos``: the organization's repositories, with the ids ``repo_id`` takes."""

    name: str = "codegen_list_repos"
    description: str = (
        "List the repositories the Codegen agent can work in, with the repo_id to pass to "
        "codegen_run_agent."
    )
    args_schema: ArgsSchema | None = ListReposArgs
    _work = work.list_repos
    _awork = async_work.async_list_repos

    def _content(self, artifact: Any, params: Any) -> str:
        return describe_repos(artifact, skip=params.skip)
