"""Each Codegen tool's work, and the sink its progress goes to, written once.

A work function takes the tool (only what the protocols below name: it never imports the
tool classes), a client, the tool's validated arguments and a log sink, and returns the
artifact. Waiting is ``handle.follow(on_log, ...)`` from the runs layer (batched watcher +
incremental log stream), never a polling loop of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, adispatch_custom_event
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from ... import AsyncAgentRun, AsyncCodegenClient
from ..._output import answers_used
from ...models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    Page,
    RepoResponse,
)
from .._bridge import CODEGEN_LOG_EVENT, graph_writer, log_event_data
from .._format import TypedAgentRunResponse

__all__ = [
    "Following",
    "Launching",
    "Waiting",
    "async_delegate",
    "async_emitter",
    "async_get_agent_run",
    "async_get_agent_run_logs",
    "async_list_agent_runs",
    "async_list_repos",
    "async_resume_agent_run",
    "async_run_agent",
    "async_stop_agent_run",
]

LogSink = Callable[[AgentRunLogResponse], Any]


def async_emitter(
    run_manager: AsyncCallbackManagerForToolRun | None, fields: Mapping[str, Any]
) -> Callable[[AgentRunLogResponse], Awaitable[None]]:
    """A sink dispatching entries as custom events of the tool run (none without one) and,
    inside a graph, writing them to its custom stream with ``fields``."""
    write = graph_writer(fields)

    async def emit(entry: AgentRunLogResponse) -> None:
        if run_manager is not None:
            config = RunnableConfig(callbacks=run_manager.get_child())
            await adispatch_custom_event(CODEGEN_LOG_EVENT, log_event_data(entry), config=config)
        if write is not None:
            write(entry)

    return emit


class Waiting(Protocol):
    """What a waiting tool's work reads of the tool."""

    default_timeout: float | None


class Following(Waiting, Protocol):
    """A waiting tool for which a run ending FAILED/ERROR/CANCELLED may be an error."""

    raise_on_failure: bool


class Launching(Following, Protocol):
    """``codegen_run_agent`` (and the supervisor's delegation tool): how to start the run."""

    result_schema: type[BaseModel] | None
    output_attempts: int

    def _launch(self, params: Any) -> tuple[str, dict[str, Any]]:
        """The prompt and the ``create`` arguments of the run to start."""


def _timeout(tool: Waiting, params: Any) -> float | None:
    return params.timeout if params.timeout is not None else tool.default_timeout


def _log_count(page: AgentRunWithLogsResponse) -> int:
    return page.total_logs if page.total_logs is not None else len(page.logs)


async def async_run_agent(
    tool: Launching, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> AgentRunResponse:
    """``codegen_run_agent``: create a run, or start it and follow it to its end (and, with
    ``result_schema``, check its answer and wait for any repair)."""
    prompt, create = tool._launch(params)
    if not params.wait:
        return await client.agent_runs.create(prompt, **create)
    run = await client.agent_runs.start(prompt, **create)
    return await _to_the_end(tool, run, params, on_log)


async def _to_the_end(
    tool: Launching, run: AsyncAgentRun, params: Any, on_log: LogSink
) -> AgentRunResponse:
    """Follow a started run to its end (and, with ``result_schema``, its repairs: the
    timeout covers them) and answer it, typed when there is a schema."""
    await run.follow(
        on_log,
        timeout=_timeout(tool, params),
        raise_on_failure=tool.raise_on_failure,
        output_schema=tool.result_schema,
        output_attempts=tool.output_attempts,
    )
    return run.data if tool.result_schema is None else _typed(run)


def _typed(run: AsyncAgentRun) -> TypedAgentRunResponse:
    output_attempts = answers_used(run.output_attempts)
    data = {**run.data.model_dump(), "output": run.output, "output_attempts": output_attempts}
    return TypedAgentRunResponse.model_validate(data)


async def async_delegate(
    tool: Launching, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> AgentRunResponse:
    """The supervisor's ``codegen_run_agent``: start the run (attaching to the one its key
    already made) and, unless ``wait=false``, follow it to its end."""
    prompt, create = tool._launch(params)
    run = await client.agent_runs.start(prompt, **create)
    return await _to_the_end(tool, run, params, on_log) if params.wait else run.data


async def async_get_agent_run(
    tool: Waiting, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> AgentRunResponse:
    """``codegen_get_agent_run``: the run, after following it to its end with ``wait``
    (only the entries written while waiting are progress)."""
    run = await client.agent_runs.attach(params.agent_run_id)
    if params.wait and not run.is_terminal:
        seen = _log_count(await client.agent_runs.logs(run.id, limit=1))
        await run.follow(on_log, timeout=_timeout(tool, params), start=seen)
    return run.data


async def async_resume_agent_run(
    tool: Following, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> AgentRunResponse:
    """``codegen_resume_agent_run``: send the follow-up (once per tool call key) and, with
    ``wait``, follow the run to its end again (only the new entries are progress)."""
    run = await client.agent_runs.attach(params.agent_run_id)
    seen = _log_count(await client.agent_runs.logs(run.id, limit=1)) if params.wait else 0
    await run.resume(params.prompt, idempotency_key=params._call_key)
    if params.wait:
        timeout, fail = _timeout(tool, params), tool.raise_on_failure
        await run.follow(on_log, timeout=timeout, raise_on_failure=fail, start=seen)
    return run.data


async def async_stop_agent_run(
    tool: object, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> AgentRunResponse:
    """``codegen_stop_agent_run``."""
    return await client.agent_runs.stop(params.agent_run_id)


async def async_list_agent_runs(
    tool: object, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> Page[AgentRunResponse]:
    """``codegen_list_agent_runs``."""
    return await client.agent_runs.list(skip=params.skip, limit=params.limit)


async def async_get_agent_run_logs(
    tool: object, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> AgentRunWithLogsResponse:
    """``codegen_get_agent_run_logs``."""
    reverse = params.newest_first
    return await client.agent_runs.logs(
        params.agent_run_id, skip=params.skip, limit=params.limit, reverse=reverse
    )


async def async_list_repos(
    tool: object, client: AsyncCodegenClient, params: Any, on_log: LogSink
) -> Page[RepoResponse]:
    """``codegen_list_repos``."""
    return await client.repos.list(skip=params.skip, limit=params.limit)
