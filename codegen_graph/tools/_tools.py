"""The seven Codegen tools: run, get, resume, stop, list runs, read logs, list repositories.

Each tool's work is a short sync/async pair over the client and its run handles; waiting is
``handle.follow(on_log, timeout=...)`` from the runs layer (batched watcher + incremental log
stream), never a polling loop of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.tools import ArgsSchema
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .. import AgentRun, AsyncAgentRun, AsyncCodegenClient, CodegenClient
from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec, answers_used
from ..models import (
    AgentRunResponse,
    AgentRunWithLogsResponse,
    AgentType,
    Page,
    RepoResponse,
)
from ._base import CodegenTool
from ._bridge import AsyncLogSink, SyncLogSink, skip_first
from ._format import describe_logs, describe_repos, describe_run, describe_runs
from ._keys import current_tool_call_id, tool_call_key

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


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The idempotency key of this tool call (see ._keys), computed on the invoking thread.
    _call_key: str | None = PrivateAttr(default=None)


class RunAgentArgs(_Args):
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


class GetAgentRunArgs(_Args):
    """Arguments of ``codegen_get_agent_run``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)
    wait: bool = Field(
        default=False,
        description="False (default): report the run's state now. True: wait until it ends.",
    )
    timeout: float | None = Field(default=None, gt=0, description=_TIMEOUT)


class ResumeAgentRunArgs(_Args):
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


class StopAgentRunArgs(_Args):
    """Arguments of ``codegen_stop_agent_run``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)


class ListAgentRunsArgs(_Args):
    """Arguments of ``codegen_list_agent_runs``."""

    limit: int = Field(default=10, ge=1, le=100, description="How many runs to list (1-100).")
    skip: int = Field(default=0, ge=0, description="How many of the newest runs to skip.")


class GetAgentRunLogsArgs(_Args):
    """Arguments of ``codegen_get_agent_run_logs``."""

    agent_run_id: int = Field(gt=0, description=_RUN_ID)
    limit: int = Field(default=20, ge=1, le=100, description="How many entries (1-100).")
    skip: int = Field(default=0, ge=0, description="How many entries to skip.")
    newest_first: bool = Field(
        default=False, description="True: the latest steps first. False: in order."
    )


class ListReposArgs(_Args):
    """Arguments of ``codegen_list_repos``."""

    limit: int = Field(default=50, ge=1, le=100, description="How many repositories (1-100).")
    skip: int = Field(default=0, ge=0, description="How many repositories to skip.")


def _log_count(page: AgentRunWithLogsResponse) -> int:
    return page.total_logs if page.total_logs is not None else len(page.logs)


class TypedAgentRunResponse(AgentRunResponse):
    """The run tool's artifact with ``output_schema``: the run plus its validated object.

    Attributes:
        output: the ``output_schema`` instance parsed from the final answer (``None`` when
            the run did not end ``COMPLETE``).
        output_attempts: how many answers it took (1: the first one was valid).
    """

    output: Any = None
    output_attempts: int = 1


def _typed(run: AgentRun | AsyncAgentRun) -> TypedAgentRunResponse:
    return TypedAgentRunResponse.model_validate(
        {
            **run.data.model_dump(),
            "output": run.output,
            "output_attempts": answers_used(run.output_attempts),
        }
    )


class _RunTool(CodegenTool):
    """A tool whose artifact is one run (``AgentRunResponse``)."""

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

    def __init__(self, *, output_schema: type[BaseModel] | None = None, **kwargs: Any) -> None:
        if output_schema is not None:
            OutputSpec(output_schema)  # a clear ConfigurationError now, not at the first call
            kwargs["result_schema"] = output_schema
        super().__init__(**kwargs)

    @staticmethod
    def _create_kwargs(p: RunAgentArgs) -> dict[str, Any]:
        create = {"repo_id": p.repo_id, "model": p.model, "agent_type": p.agent_type}
        key = getattr(p, "_call_key", None)  # a subclass's args may not have one
        if key is not None:  # inside a graph: one run per tool call, ever
            create["idempotency_key"] = key
        return create

    def _params(self, kwargs: Mapping[str, Any]) -> BaseModel:
        params = super()._params(kwargs)
        if isinstance(params, _Args):
            params._call_key = tool_call_key("run", current_tool_call_id())
        return params

    def _content(self, artifact: Any, params: Any) -> str:
        text = super()._content(artifact, params)
        if isinstance(artifact, TypedAgentRunResponse) and isinstance(artifact.output, BaseModel):
            name = type(artifact.output).__name__
            data = artifact.output.model_dump_json()
            if len(data) > self.max_result_chars:
                data = data[: self.max_result_chars] + "... (cut; the whole object: artifact)"
            text += f"\nValidated {name} (answer {artifact.output_attempts}): {data}"
        return text

    def _prompt(self, p: RunAgentArgs) -> str:
        if self.result_schema is None:
            return p.prompt
        return OutputSpec(self.result_schema, max_attempts=self.output_attempts).with_instructions(
            p.prompt
        )

    def _call(self, client: CodegenClient, params: Any, on_log: SyncLogSink) -> AgentRunResponse:
        p: RunAgentArgs = params
        if not p.wait:
            return client.agent_runs.create(self._prompt(p), **self._create_kwargs(p))
        run = client.agent_runs.start(self._prompt(p), **self._create_kwargs(p))
        timeout = self._timeout(p.timeout)
        run.follow(on_log, timeout=timeout, raise_on_failure=self.raise_on_failure)
        if self.result_schema is None:
            return run.data
        # The run is over: the typed wait checks its answer (and waits for any repair).
        schema, attempts = self.result_schema, self.output_attempts
        run.wait(timeout, output_schema=schema, output_attempts=attempts)
        return _typed(run)

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> AgentRunResponse:
        p: RunAgentArgs = params
        if not p.wait:
            return await client.agent_runs.create(self._prompt(p), **self._create_kwargs(p))
        run = await client.agent_runs.start(self._prompt(p), **self._create_kwargs(p))
        timeout = self._timeout(p.timeout)
        await run.follow(on_log, timeout=timeout, raise_on_failure=self.raise_on_failure)
        if self.result_schema is None:
            return run.data
        schema, attempts = self.result_schema, self.output_attempts
        await run.wait(timeout, output_schema=schema, output_attempts=attempts)
        return _typed(run)


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

    def _call(self, client: CodegenClient, params: Any, on_log: SyncLogSink) -> AgentRunResponse:
        p: GetAgentRunArgs = params
        run = client.agent_runs.attach(p.agent_run_id)
        if p.wait and not run.is_terminal:
            seen = _log_count(client.agent_runs.logs(run.id, limit=1))
            run.follow(skip_first(seen, on_log), timeout=self._timeout(p.timeout))
        return run.data

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> AgentRunResponse:
        p: GetAgentRunArgs = params
        run = await client.agent_runs.attach(p.agent_run_id)
        if p.wait and not run.is_terminal:
            seen = _log_count(await client.agent_runs.logs(run.id, limit=1))
            await run.follow(skip_first(seen, on_log), timeout=self._timeout(p.timeout))
        return run.data


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

    def _params(self, kwargs: Mapping[str, Any]) -> BaseModel:
        params = super()._params(kwargs)
        if isinstance(params, _Args):
            params._call_key = tool_call_key("resume", current_tool_call_id())
        return params

    def _call(self, client: CodegenClient, params: Any, on_log: SyncLogSink) -> AgentRunResponse:
        p: ResumeAgentRunArgs = params
        run = client.agent_runs.attach(p.agent_run_id)
        seen = _log_count(client.agent_runs.logs(run.id, limit=1)) if p.wait else 0
        run.resume(p.prompt, idempotency_key=p._call_key)
        if p.wait:
            run.follow(
                skip_first(seen, on_log),
                timeout=self._timeout(p.timeout),
                raise_on_failure=self.raise_on_failure,
            )
        return run.data

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> AgentRunResponse:
        p: ResumeAgentRunArgs = params
        run = await client.agent_runs.attach(p.agent_run_id)
        seen = _log_count(await client.agent_runs.logs(run.id, limit=1)) if p.wait else 0
        await run.resume(p.prompt, idempotency_key=p._call_key)
        if p.wait:
            await run.follow(
                skip_first(seen, on_log),
                timeout=self._timeout(p.timeout),
                raise_on_failure=self.raise_on_failure,
            )
        return run.data


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

    def _call(self, client: CodegenClient, params: Any, on_log: SyncLogSink) -> AgentRunResponse:
        return client.agent_runs.stop(params.agent_run_id)

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> AgentRunResponse:
        return await client.agent_runs.stop(params.agent_run_id)


class CodegenListAgentRunsTool(CodegenTool):
    """``codegen_list_agent_runs``: the organization's runs, newest first (one page)."""

    name: str = "codegen_list_agent_runs"
    description: str = (
        "List the organization's Codegen agent runs, newest first, with id, status and a "
        "short result. Use it to find a run id."
    )
    args_schema: ArgsSchema | None = ListAgentRunsArgs

    def _call(
        self, client: CodegenClient, params: Any, on_log: SyncLogSink
    ) -> Page[AgentRunResponse]:
        return client.agent_runs.list(skip=params.skip, limit=params.limit)

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> Page[AgentRunResponse]:
        return await client.agent_runs.list(skip=params.skip, limit=params.limit)

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

    def _call(
        self, client: CodegenClient, params: Any, on_log: SyncLogSink
    ) -> AgentRunWithLogsResponse:
        p: GetAgentRunLogsArgs = params
        return client.agent_runs.logs(
            p.agent_run_id, skip=p.skip, limit=p.limit, reverse=p.newest_first
        )

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> AgentRunWithLogsResponse:
        p: GetAgentRunLogsArgs = params
        return await client.agent_runs.logs(
            p.agent_run_id, skip=p.skip, limit=p.limit, reverse=p.newest_first
        )

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

    def _call(self, client: CodegenClient, params: Any, on_log: SyncLogSink) -> Page[RepoResponse]:
        return client.repos.list(skip=params.skip, limit=params.limit)

    async def _acall(
        self, client: AsyncCodegenClient, params: Any, on_log: AsyncLogSink | SyncLogSink
    ) -> Page[RepoResponse]:
        return await client.repos.list(skip=params.skip, limit=params.limit)

    def _content(self, artifact: Any, params: Any) -> str:
        return describe_repos(artifact, skip=params.skip)
