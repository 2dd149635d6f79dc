"""The graph nodes' work, written once: launch, attach, wait (traced, streamed, checked).

Each piece is a small coroutine over a run handle; ``codegen_node``, ``codegen_wait_node``,
the feature workflow's ``fix`` and ``codegen_agent`` assemble them (see
:mod:`codegen_graph.graph._nodes` for the decisions, which do no I/O).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

from ... import AsyncAgentRun, AsyncCodegenClient
from ..._async.output import async_repair
from ..._concurrency import Cancelled, async_shield
from ..._output import OutputAttempt, answers_used, count_repairs
from ...models import AgentRunResponse
from ...plugins import call_context
from .._launch import (
    Launch,
    NodeSpec,
    ResumePlan,
    TypedResult,
    agent_answer,
    attach_trace,
    create_trace,
    heartbeat,
    known_active,
    plan_launch,
    plan_turn,
    record_update,
    recorded_run,
    repair_trace,
    result_item,
    resume_trace,
    run_metadata,
    store_for,
    thread_of,
    wait_trace,
    with_output,
)
from .._observe import LogSink, render_context, with_context

__all__ = [
    "async_agent_node",
    "async_follow",
    "async_launch",
    "async_launch_node",
    "async_resume",
    "async_resume_node",
    "async_wait_checked",
    "async_wait_node",
]

_SEARCH_LIMIT = 100


async def async_follow(
    handle: AsyncAgentRun, spec: NodeSpec, timeout: float | None, start: int = 0
) -> tuple[AgentRunResponse, int]:
    """Wait for a run inside a ``codegen.wait`` trace, each remote step a child run and a
    custom stream event; returns the final run and the log entries seen in all."""
    async with wait_trace(handle.id, spec.role) as op:
        sink = LogSink(spec.role, spec.key, handle.id, op, spec.filters)
        await handle.follow(sink, timeout=timeout, start=start, on_tick=heartbeat())
        run = spec.filters.run(handle.data, spec.role)
        op.record_run(run)
        op.set_outputs({"result": run.result, "summary": run.summary, "remote_steps": sink.count})
    return run, start + sink.count


async def async_wait_checked(
    handle: AsyncAgentRun, spec: NodeSpec, start: int
) -> tuple[AgentRunResponse, int, TypedResult | None]:
    """Follow the run to its end, then check (and repair, by resuming it) its answer against
    the node's ``output_schema``; the node's timeout covers the repairs too. With
    ``stop_on_cancel``, a cancelled graph run (an Agent Server's ``runs.cancel``) stops it."""
    try:
        return await _follow_checked(handle, spec, start)
    except Cancelled:  # the graph run was cancelled: so is the agent's work
        if spec.stop_on_cancel:
            await async_shield(handle.stop)
        raise


async def _follow_checked(
    handle: AsyncAgentRun, spec: NodeSpec, start: int
) -> tuple[AgentRunResponse, int, TypedResult | None]:
    clock = spec.clock
    deadline = None if spec.timeout is None else clock.now() + spec.timeout
    run, seen = await async_follow(handle, spec, spec.timeout, start)
    if spec.output is None:
        return run, seen, None
    attempts: list[OutputAttempt] = []

    async def count() -> int:
        return count_repairs(await handle.logs())

    async def again(prompt: str) -> AgentRunResponse:
        nonlocal run, seen
        async with repair_trace(handle.id, spec.role, prompt) as op:
            await handle.resume(prompt)
            op.record_run(handle.data)
        left = None if deadline is None else max(0.0, deadline - clock.now())
        run, seen = await async_follow(handle, spec, left, seen)
        return run

    output = await async_repair(spec.output, run, attempts, count=count, again=again)
    return run, seen, TypedResult(output, answers_used(attempts))


async def async_launch(
    client: AsyncCodegenClient,
    spec: NodeSpec,
    launch: Launch,
    state: Mapping[str, Any],
    config: RunnableConfig,
) -> AsyncAgentRun:
    """Attach to the run the state records, or start the keyed run (exactly once)."""
    runs = client.agent_runs
    if launch.attach_id is not None:
        async with attach_trace(launch.attach_id, spec.role) as op:
            handle = await runs.attach(launch.attach_id)
            op.record_run(handle.data)
        return handle
    text = launch.prompt or ""
    shared = store_for(spec, state)
    if shared is not None:
        items = await shared.store.asearch(shared.namespace, limit=_SEARCH_LIMIT)
        text = with_context(text, render_context(items, shared.namespace))
    text = spec.instructed(text)
    async with create_trace(launch, spec, text) as op:
        handle = await runs.start(
            text,
            idempotency_key=launch.key,
            created_after=launch.since,
            metadata=run_metadata(spec, state, config),
            **spec.create_args(state),
        )
        op.record_run(handle.data)
    return handle


async def async_finish(
    spec: NodeSpec,
    state: Mapping[str, Any],
    config: RunnableConfig,
    run: AgentRunResponse,
    update: dict[str, Any],
    typed: TypedResult | None,
) -> dict[str, Any]:
    """Write the finished run to the store (``store_namespace``) and its output to state."""
    shared = store_for(spec, state)
    if shared is not None:
        await shared.store.aput(
            shared.namespace, spec.role, result_item(run, spec.role, thread_of(config))
        )
    finished: dict[str, Any] = with_output(update, spec.key, spec.role, typed)
    return finished


def async_launch_node(client: AsyncCodegenClient, spec: NodeSpec) -> Callable[..., Awaitable[Any]]:
    """``codegen_node``: launch (exactly once) and, with ``wait=True``, wait and record."""

    async def node(state: Mapping[str, Any], config: RunnableConfig) -> Any:
        todo, started = plan_launch(spec, state, config), spec.clock.now()
        with call_context(role=spec.role):
            handle = await async_launch(client, spec, todo, state, config)
            if not spec.wait:
                run = spec.filters.run(handle.data, spec.role)
                return record_update(
                    spec, run, todo.iteration, todo.key, started, todo.seen, finished=False
                )
            run, seen, typed = await async_wait_checked(handle, spec, todo.seen)
        update = record_update(spec, run, todo.iteration, todo.key, started, seen, finished=True)
        return await async_finish(spec, state, config, run, update, typed)

    node.__name__ = f"codegen_{spec.key}"
    return node


def async_wait_node(client: AsyncCodegenClient, spec: NodeSpec) -> Callable[..., Awaitable[Any]]:
    """``codegen_wait_node``: wait for the run recorded under the node's key, and record."""

    async def node(state: Mapping[str, Any], config: RunnableConfig) -> Any:
        record, run_id = recorded_run(state, spec.key)
        who = spec.for_role(spec.role or record.get("role") or spec.key)
        with call_context(role=who.role):
            known = known_active(record, run_id, client.org_id)
            handle = await client.agent_runs.attach(known if known is not None else run_id)
            run, seen, typed = await async_wait_checked(
                handle, who, int(record.get("logs_seen") or 0)
            )
        iteration = int(record.get("iteration", 1))
        update = record_update(
            who,
            run,
            iteration,
            record.get("idempotency_key"),
            record.get("created_at"),
            seen,
            finished=True,
        )
        return await async_finish(who, state, config, run, update, typed)

    node.__name__ = f"codegen_wait_{spec.key}"
    return node


async def async_resume(client: AsyncCodegenClient, plan: ResumePlan) -> AgentRunResponse:
    """Send ``plan.text`` to the run, traced; with a key, at most once (its marker)."""
    async with resume_trace(plan.run_id, plan.role, plan.text) as op:
        run = await client.agent_runs.resume(plan.run_id, plan.text, idempotency_key=plan.key)
        op.record_run(run)
    return run


def async_resume_node(
    client: AsyncCodegenClient,
    plan: Callable[[Any, RunnableConfig], ResumePlan],
    done: Callable[[Any, ResumePlan, AgentRunResponse], Any],
) -> Callable[..., Awaitable[Any]]:
    """A node that resumes a run (see :func:`codegen_graph.graph._nodes.resume_node`)."""

    async def node(state: Any, config: RunnableConfig) -> Any:
        todo = plan(state, config)
        with call_context(role=todo.role, untrusted=todo.source is not None, source=todo.source):
            run = await async_resume(client, todo)
        return done(state, todo, run)

    return node


async def async_log_count(client: AsyncCodegenClient, run_id: int) -> int:
    """How many log entries the run has (one request): a wait after a resume streams on."""
    page = await client.agent_runs.logs(run_id, limit=1)
    return page.total_logs if page.total_logs is not None else len(page.logs)


def async_agent_node(client: AsyncCodegenClient, spec: NodeSpec) -> Callable[..., Awaitable[Any]]:
    """``codegen_agent``'s node: the last human message creates the thread's run or
    resumes it (once per message), the wait streams and traces, the answer is a message.
    A cancelled graph run stops the Codegen run."""

    async def node(state: Mapping[str, Any], config: RunnableConfig) -> Any:
        turn, started = plan_turn(spec.role, state, config), spec.clock.now()
        seen, run_id = 0, turn.run_id
        with call_context(role=spec.role):
            if run_id is None and turn.earlier:  # not in state: an earlier message's run?
                found = await client.agent_runs.find_by_idempotency_keys(
                    list(turn.earlier), created_after=started - spec.key_lookback
                )
                run_id = next((found[k].id for k in turn.earlier if k in found), None)
            if run_id is None:
                since = started - spec.key_lookback
                todo = Launch(turn.index + 1, None, turn.text, turn.key, since=since)
                handle = await async_launch(client, spec, todo, state, config)
            else:
                seen = await async_log_count(client, run_id)
                plan = ResumePlan(spec.role, run_id, spec.instructed(turn.text), turn.key)
                handle = await client.agent_runs.attach(await async_resume(client, plan))
                if handle.reused:  # sent before (a retry, a crash): stream it all again
                    seen = 0
            run, _, typed = await async_wait_checked(handle, spec, seen)
        return agent_answer(spec, turn, run, started, typed)

    node.__name__ = f"codegen_agent_{spec.role}"
    return node
