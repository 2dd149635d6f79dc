"""Codegen agent runs as LangGraph nodes, launched exactly once.

A remote agent run costs money and minutes, so a node that is re-executed - a
``RetryPolicy`` retry, a thread resumed from its checkpoint after a crash, a replay - must
attach to the run it already launched, never create a second one. Two mechanisms make
launch exactly-once:

1. **State**: a launched run is recorded in ``state["runs"][key]`` with its iteration. A node
   that finds a record for its key and iteration attaches to that run.
2. **Idempotency key**: before the record is checkpointed (a crash between the create call
   and the checkpoint, or a ``RetryPolicy`` retry of a ``wait=True`` node), the only trace of
   the run is on the server. Every launch carries a key derived from the thread, the node,
   the superstep, the iteration and the prompt (:func:`launch_key`), identical when the same
   step is re-run, from its own checkpoint or from an earlier one (``durability="async"``).
   The client stores it in the run's ``metadata``; before creating, the node looks it up by
   paging the org's runs newest first back to when the launch began: the first attempt's
   time when this process made it (a retry), else ``key_lookback`` seconds (one day by
   default) before now (a re-run in a new process), however many runs are newer.

:func:`codegen_node` (``wait=False``) and :func:`codegen_wait_node` split launch and wait so
the run id is checkpointed before the (long) wait begins; ``wait=True`` does both in one
node, still exactly-once through the idempotency key.

Nodes built on a :class:`~codegen_graph.CodegenClient` are sync functions (they work with
``invoke`` and ``ainvoke``); nodes built on an :class:`~codegen_graph.AsyncCodegenClient` are
coroutine functions, so LangGraph's node ``timeout=`` applies to them.
"""

from __future__ import annotations

import string
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import get_runtime
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from .._client import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec
from .._runs import AgentRun, AsyncAgentRun
from .._status import AgentRunStatus
from ..models import AgentRunResponse, AgentType
from ..observability import OperationTrace, subagent_metadata, trace_operation
from ..plugins import Plugin, call_context
from ..resources import DEFAULT_KEY_LOOKBACK
from ._keys import launch_key
from ._observe import (
    LOG_EVENT,
    LogSink,
    OutputFilters,
    StoreNamespace,
    aread_context,
    namespace_for,
    node_store,
    read_context,
    result_item,
    with_context,
)
from ._state import RunRecord
from ._typed import (
    TypedContext,
    TypedResult,
    atyped_wait,
    deadline_after,
    output_spec,
    typed_wait,
    with_output,
)

__all__ = [
    "LOG_EVENT",
    "PromptSpec",
    "StoreNamespace",
    "codegen_node",
    "codegen_wait_node",
    "render_prompt",
]

#: A prompt: a ``str.format`` template filled from the state, or a callable of the state.
PromptSpec = str | Callable[[Mapping[str, Any]], str]

_Node = Callable[..., Any]


def render_prompt(prompt: PromptSpec, state: Mapping[str, Any]) -> str:
    """Fill a prompt template from the state (or call a prompt callable).

    Template fields name state keys (``{task}``); a missing key is a
    :class:`~codegen_graph.ConfigurationError` naming it.
    """
    if callable(prompt):
        text = prompt(state)
    else:
        fields = {name for _, name, _, _ in string.Formatter().parse(prompt) if name}
        missing = sorted(f for f in fields if f.split(".")[0].split("[")[0] not in state)
        if missing:
            raise ConfigurationError(
                f"prompt template needs state key(s) {missing}, which the state does not have"
            )
        text = prompt.format_map(dict(state))
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError("the node's prompt rendered to an empty string")
    return text


def _iteration(state: Mapping[str, Any], key: str) -> int:
    return int((state.get("iterations") or {}).get(key, 1))


def _attachable(state: Mapping[str, Any], key: str, iteration: int) -> int | None:
    record = (state.get("runs") or {}).get(key)
    if record and record.get("agent_run_id") and int(record.get("iteration", 1)) == iteration:
        return int(record["agent_run_id"])
    return None


def run_record(
    key: str,
    role: str,
    run: AgentRunResponse,
    *,
    iteration: int,
    idempotency_key: str | None,
    attempts: int = 1,
    started_at: float | None = None,
    finished_at: float | None = None,
    now: float | None = None,
    logs_seen: int | None = None,
) -> RunRecord:
    """The JSON-safe record of a run that goes into ``state["runs"]``.

    ``logs_seen`` is left out when unknown, so merging keeps the previous count.
    """
    status = run.status.canonical if run.status is not None else "PENDING"
    record = RunRecord(
        key=key,
        agent_run_id=run.id,
        role=role,
        status=status,
        result=run.result,
        summary=run.summary,
        pr_urls=run.pr_urls,
        web_url=run.web_url,
        attempts=attempts,
        iteration=iteration,
        created_at=started_at,
        finished_at=finished_at,
        updated_at=now if now is not None else finished_at or started_at,
        idempotency_key=idempotency_key or "",
    )
    if logs_seen is not None:
        record["logs_seen"] = logs_seen
    return record


def _finished_update(
    key: str, role: str, record: RunRecord, run: AgentRunResponse
) -> dict[str, Any]:
    content = run.result or run.summary or f"agent run {run.id} ended {record['status']}"
    return {
        "runs": {key: record},
        "artifacts": {
            role: {
                "agent_run_id": run.id,
                "result": run.result,
                "summary": run.summary,
                "pr_urls": record["pr_urls"],
                "web_url": run.web_url,
                "status": record["status"],
            }
        },
        "messages": [
            AIMessage(
                content=content,
                name=role,
                id=f"codegen-{key}-{run.id}-{record['iteration']}",
                additional_kwargs={"agent_run_id": run.id, "status": record["status"]},
            )
        ],
    }


class _Launch(NamedTuple):
    """What a launching node must do: attach to ``attach_id``, or create with ``key``."""

    iteration: int
    attach_id: int | None
    prompt: str | None = None
    key: str | None = None
    seen: int = 0  # log entries of the attached run that were already streamed
    since: float | None = None  # the key's lookup bound: when its launch began


class _Intents:
    """When each launch key was first tried in this process (a bounded LRU).

    A ``RetryPolicy`` retry re-runs the node in the same process: its key lookup then
    needs to reach back only to the first attempt, however long the attempts took.
    """

    def __init__(self, size: int = 4096) -> None:
        self._first: OrderedDict[str, float] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def since(self, key: str, now: float, lookback: float) -> float:
        """The lookup bound for ``key``; remembers ``now`` as its first attempt."""
        with self._lock:
            first = self._first.get(key)
            if first is None:
                self._first[key] = now
                while len(self._first) > self._size:
                    self._first.popitem(last=False)
                return now - lookback
            self._first.move_to_end(key)
            return first


_INTENTS = _Intents()


def _record_update(
    key: str,
    role: str,
    run: AgentRunResponse,
    *,
    iteration: int,
    idem: str | None,
    started: float | None,
    now: float,
    finished: bool,
    logs_seen: int | None = None,
) -> dict[str, Any]:
    record = run_record(
        key,
        role,
        run,
        iteration=iteration,
        idempotency_key=idem,
        started_at=started,
        finished_at=now if finished else None,
        now=now,
        logs_seen=logs_seen,
    )
    return _finished_update(key, role, record, run) if finished else {"runs": {key: record}}


def _thread(config: RunnableConfig) -> Any:
    return (config.get("configurable") or {}).get("thread_id")


def _store_for(spec: StoreNamespace | None, state: Mapping[str, Any]) -> _Shared | None:
    if spec is None:
        return None
    namespace = namespace_for(spec, state)
    store = node_store()
    if store is None:
        raise ConfigurationError(
            f"store_namespace={namespace!r} needs a store: compile the graph with "
            "store=InMemoryStore() (or any langgraph BaseStore)"
        )
    return _Shared(store, namespace)


class _Shared(NamedTuple):
    store: BaseStore
    namespace: tuple[str, ...]


def _wait_trace(handle_id: int, role: str) -> trace_operation:
    """The ``codegen.wait`` run: the remote run as a coding-agent ``subagent`` run, whose
    remote ``ACTION`` steps are ``tool`` children (see ``docs/observability.md``)."""
    meta = subagent_metadata(handle_id, role)
    return trace_operation(
        "codegen.wait", inputs={"agent_run_id": handle_id}, metadata=meta, role=role
    )


def _close_wait(op: OperationTrace, run: AgentRunResponse, sink: LogSink) -> None:
    op.record_run(run)
    op.set_outputs({"result": run.result, "summary": run.summary, "remote_steps": sink.count})


def _heartbeat() -> Callable[[], None] | None:
    """The running node's ``runtime.heartbeat()`` (LangGraph 1.2), ``None`` outside a graph.

    The wait calls it on every watcher tick, so a node under ``TimeoutPolicy(idle_timeout=...)``
    stays alive while the remote run works, however long it is quiet.
    """
    try:
        runtime = get_runtime()
    except RuntimeError:  # called outside a LangGraph run (a node function called directly)
        return None
    beat = getattr(runtime, "heartbeat", None)
    return beat if callable(beat) else None


def _follow(
    handle: AgentRun,
    role: str,
    key: str,
    timeout: float | None,
    filters: OutputFilters,
    start: int = 0,
) -> tuple[AgentRunResponse, int]:
    """Wait for a run inside a ``codegen.wait`` trace; each remote step is a child run.

    Streams the log entries after the first ``start``; returns the final run and the number
    of entries seen in all.
    """
    with _wait_trace(handle.id, role) as op:
        sink = LogSink(role, key, handle.id, op, filters)
        handle.follow(sink, timeout=timeout, start=start, on_tick=_heartbeat())
        run = filters.run(handle.data, role)
        _close_wait(op, run, sink)
    return run, start + sink.count


async def _afollow(
    handle: AsyncAgentRun,
    role: str,
    key: str,
    timeout: float | None,
    filters: OutputFilters,
    start: int = 0,
) -> tuple[AgentRunResponse, int]:
    """:func:`_follow` for async handles (the log callback runs in the pump task)."""
    async with _wait_trace(handle.id, role) as op:
        sink = LogSink(role, key, handle.id, op, filters)
        await handle.follow(sink, timeout=timeout, start=start, on_tick=_heartbeat())
        run = filters.run(handle.data, role)
        _close_wait(op, run, sink)
    return run, start + sink.count


def _wait_checked(
    handle: AgentRun,
    ctx: TypedContext,
    timeout: float | None,
    start: int,
    spec: OutputSpec[Any] | None,
) -> tuple[AgentRunResponse, int, TypedResult | None]:
    """Follow the run to its end, then check (and repair) its answer against ``spec``.

    Both node factories wait this way; the deadline covers the repairs too.
    """
    deadline = deadline_after(timeout, ctx.clock)
    run, seen = _follow(handle, ctx.role, ctx.key, timeout, ctx.filters, start)
    if spec is None:
        return run, seen, None
    typed = typed_wait(handle, spec, (run, seen), ctx, deadline, _follow)
    return typed.run, typed.seen, typed


async def _await_checked(
    handle: AsyncAgentRun,
    ctx: TypedContext,
    timeout: float | None,
    start: int,
    spec: OutputSpec[Any] | None,
) -> tuple[AgentRunResponse, int, TypedResult | None]:
    """:func:`_wait_checked` for async handles."""
    deadline = deadline_after(timeout, ctx.clock)
    run, seen = await _afollow(handle, ctx.role, ctx.key, timeout, ctx.filters, start)
    if spec is None:
        return run, seen, None
    typed = await atyped_wait(handle, spec, (run, seen), ctx, deadline, _afollow)
    return typed.run, typed.seen, typed


def _create_trace(launch: _Launch, key: str, role: str, text: str) -> trace_operation:
    inputs = {"prompt": text, "key": key, "iteration": launch.iteration}
    return trace_operation("codegen.create", inputs=inputs, role=role)


def _attach_trace(run_id: int, role: str) -> trace_operation:
    return trace_operation("codegen.attach", inputs={"agent_run_id": run_id}, role=role)


def codegen_node(
    role: str,
    prompt: PromptSpec,
    *,
    client: CodegenClient | AsyncCodegenClient,
    key: str | None = None,
    repo_id: int | Callable[[Mapping[str, Any]], int | None] | None = None,
    model: str | None = None,
    agent_type: AgentType | None = None,
    wait: bool = True,
    timeout: float | None = None,
    metadata: Mapping[str, Any] | Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
    store_namespace: StoreNamespace | None = None,
    output_filter: Plugin | None = None,
    output_schema: type[BaseModel] | None = None,
    output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
    key_lookback: float = DEFAULT_KEY_LOOKBACK,
) -> _Node:
    """A graph node that launches a Codegen agent run (exactly once) and, by default, waits.

    Args:
        role: the agent's role (``"code"``, ``"tests"``, ...): names the AIMessage and the
            artifacts entry, and tags plugin contexts, metrics and traces.
        prompt: a ``str.format`` template over the state (``"Implement: {task}"``) or a
            callable of the state.
        client: a sync or async client; it decides whether the node is sync or async.
        key: the key of the run in ``state["runs"]`` (default: ``role``).
        repo_id: the repository the agent works in (or a callable of the state returning it).
        model: the model the agent uses (default: the org's).
        agent_type: ``"codegen"`` or ``"claude_code"`` (default: the org's).
        wait: ``False`` records the launched run and returns at once; pair it with
            :func:`codegen_wait_node` so the run id is checkpointed before waiting.
        timeout: clock seconds to wait at most (raises ``RunTimeoutError``; a retry of the
            node re-attaches to the same run).
        metadata: extra metadata stored with the run (or a callable of the state
            returning it).
        store_namespace: a namespace of the graph's ``BaseStore`` (or a callable of the
            state returning one): its items are appended to the prompt before the launch,
            and the finished run's result is written there under ``role`` (when
            ``wait=True``; otherwise by :func:`codegen_wait_node`). Needs a graph compiled
            with ``store=``.
        output_filter: a plugin whose ``filter_output`` cleans the agent's result, summary
            and log entries (e.g. :class:`~codegen_graph.plugins.OutputFilter`), after the
            client's plugins.
        key_lookback: seconds before now that a launch re-run in a new process (after a
            crash, with no run recorded in state yet) looks back for its key's run (default
            one day). A retry in the same process looks back to its first attempt.
        output_schema: a pydantic model: the prompt asks for a JSON object of it at the
            end of the final answer, and the validated object lands in
            ``state["runs"][key]["output"]`` and ``state["artifacts"][role]["output"]``
            (JSON-safe data). An invalid answer resumes the same run with the errors, at
            most ``output_attempts`` answers in all, then ``OutputValidationError`` (not
            retried). With ``wait=False``, give the schema to :func:`codegen_wait_node`
            too. See ``docs/typed-results.md``.
        output_attempts: answers in all, the first included (>= 1).

    The node reads ``state["iterations"][key]`` (default 1) as the iteration, forwards each
    remote log entry to LangGraph's custom stream (``stream_mode="custom"``, events named
    :data:`LOG_EVENT`), traces ``codegen.create`` / ``codegen.wait`` (with each remote step)
    when LangSmith tracing is on, and on completion writes ``runs``, ``artifacts`` and an
    ``AIMessage`` named after the role.
    """
    key = key or role
    if isinstance(key_lookback, bool) or not isinstance(key_lookback, (int, float)):
        raise ConfigurationError(f"key_lookback must be seconds, got {key_lookback!r}")
    if key_lookback < 0:
        raise ConfigurationError(f"key_lookback must be >= 0, got {key_lookback!r}")
    create: dict[str, Any] = {"model": model, "agent_type": agent_type}

    def create_args(state: Mapping[str, Any]) -> dict[str, Any]:
        return {"repo_id": repo_id(state) if callable(repo_id) else repo_id, **create}

    extra_meta = metadata if callable(metadata) else dict(metadata or {})
    filters = OutputFilters(client, output_filter)
    spec = output_spec(output_schema, output_attempts)

    def plan(state: Mapping[str, Any], config: RunnableConfig) -> _Launch:
        iteration = _iteration(state, key)
        attach_id = _attachable(state, key, iteration)
        if attach_id is not None:
            seen = int((state.get("runs") or {})[key].get("logs_seen") or 0)
            return _Launch(iteration, attach_id, seen=seen)
        text = render_prompt(prompt, state)
        idem = launch_key(config, key, iteration, prompt=text)
        since = _INTENTS.since(idem, client.clock.now(), key_lookback)
        return _Launch(iteration, None, text, idem, since=since)

    def instructed(text: str) -> str:
        return spec.with_instructions(text) if spec is not None else text

    def run_metadata(config: RunnableConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        extra = extra_meta(state) if callable(extra_meta) else extra_meta
        return {"codegen_graph_role": role, "codegen_graph_thread": _thread(config), **extra}

    def update(
        launch: _Launch, run: AgentRunResponse, started: float, now: float, seen: int | None
    ) -> Any:
        return _record_update(
            key,
            role,
            filters.run(run, role),
            iteration=launch.iteration,
            idem=launch.key,
            started=started,
            now=now,
            finished=wait,
            logs_seen=seen,
        )

    if isinstance(client, AsyncCodegenClient):
        aruns, aclock = client.agent_runs, client.clock

        async def anode(state: Mapping[str, Any], config: RunnableConfig) -> Any:
            launch, started = plan(state, config), aclock.now()
            shared = _store_for(store_namespace, state)
            with call_context(role=role):
                if launch.attach_id is not None:
                    async with _attach_trace(launch.attach_id, role) as op:
                        handle = await aruns.attach(launch.attach_id)
                        op.record_run(handle.data)
                else:
                    text = launch.prompt or ""
                    if shared is not None:
                        text = with_context(
                            text, await aread_context(shared.store, shared.namespace)
                        )
                    text = instructed(text)
                    async with _create_trace(launch, key, role, text) as op:
                        handle = await aruns.start(
                            text,
                            idempotency_key=launch.key,
                            created_after=launch.since,
                            metadata=run_metadata(config, state),
                            **create_args(state),
                        )
                        op.record_run(handle.data)
                if not wait:
                    return update(launch, handle.data, started, aclock.now(), launch.seen)
                ctx = TypedContext(role, key, filters, aclock)
                run, seen, typed = await _await_checked(handle, ctx, timeout, launch.seen, spec)
            if shared is not None:
                item = result_item(run, role, _thread(config))
                await shared.store.aput(shared.namespace, role, item)
            done = update(launch, run, started, aclock.now(), seen)
            return with_output(done, key, role, typed)

        anode.__name__ = f"codegen_{key}"
        return anode

    runs, clock = client.agent_runs, client.clock

    def node(state: Mapping[str, Any], config: RunnableConfig) -> Any:
        launch, started = plan(state, config), clock.now()
        shared = _store_for(store_namespace, state)
        with call_context(role=role):
            if launch.attach_id is not None:
                with _attach_trace(launch.attach_id, role) as op:
                    handle = runs.attach(launch.attach_id)
                    op.record_run(handle.data)
            else:
                text = launch.prompt or ""
                if shared is not None:
                    text = with_context(text, read_context(shared.store, shared.namespace))
                text = instructed(text)
                with _create_trace(launch, key, role, text) as op:
                    handle = runs.start(
                        text,
                        idempotency_key=launch.key,
                        created_after=launch.since,
                        metadata=run_metadata(config, state),
                        **create_args(state),
                    )
                    op.record_run(handle.data)
            if not wait:
                return update(launch, handle.data, started, clock.now(), launch.seen)
            ctx = TypedContext(role, key, filters, clock)
            run, seen, typed = _wait_checked(handle, ctx, timeout, launch.seen, spec)
        if shared is not None:
            shared.store.put(shared.namespace, role, result_item(run, role, _thread(config)))
        return with_output(update(launch, run, started, clock.now(), seen), key, role, typed)

    node.__name__ = f"codegen_{key}"
    return node


def recorded_run(state: Mapping[str, Any], key: str) -> tuple[RunRecord, int]:
    """The run recorded under ``state["runs"][key]`` and its id (a clear error when none)."""
    record: RunRecord | None = (state.get("runs") or {}).get(key)
    run_id = record.get("agent_run_id") if record else None
    if record is None or not run_id:
        raise ConfigurationError(
            f"no launched run under state['runs'][{key!r}]: put a codegen_node(..., "
            "wait=False) with that key before this node"
        )
    return record, int(run_id)


def _known_active(record: RunRecord, run_id: int, org_id: int) -> AgentRunResponse | None:
    """The recorded run as a model when the record says it is still going (no GET needed).

    A handle made from it knows it saw the run active, so it reports the finish to the
    client's plugins and metrics even if the run ended before the wait began.
    """
    status = AgentRunStatus(record.get("status") or "PENDING")
    if status.is_terminal:
        return None
    return AgentRunResponse(id=run_id, organization_id=org_id, status=status)


def codegen_wait_node(
    key: str,
    *,
    client: CodegenClient | AsyncCodegenClient,
    role: str | None = None,
    timeout: float | None = None,
    store_namespace: StoreNamespace | None = None,
    output_filter: Plugin | None = None,
    output_schema: type[BaseModel] | None = None,
    output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
) -> _Node:
    """A node that waits for the run recorded under ``state["runs"][key]``.

    It never launches anything: re-executing it (retry, crash, replay) only waits again.
    Log entries are forwarded to the custom stream and traced as in :func:`codegen_node`;
    ``store_namespace``, ``output_filter``, ``output_schema`` and ``output_attempts`` work
    as there (this node writes the result and checks and repairs the answer).
    """
    filters = OutputFilters(client, output_filter)
    spec = output_spec(output_schema, output_attempts)

    def update(record: RunRecord, who: str, run: AgentRunResponse, now: float, seen: int) -> Any:
        return _record_update(
            key,
            who,
            run,
            iteration=int(record.get("iteration", 1)),
            idem=record.get("idempotency_key"),
            started=record.get("created_at"),
            now=now,
            finished=True,
            logs_seen=seen,
        )

    if isinstance(client, AsyncCodegenClient):
        aruns, aclock = client.agent_runs, client.clock

        async def anode(state: Mapping[str, Any], config: RunnableConfig) -> Any:
            record, run_id = recorded_run(state, key)
            shared = _store_for(store_namespace, state)
            who = role or record.get("role") or key
            with call_context(role=who):
                known = _known_active(record, run_id, client.org_id)
                handle = await aruns.attach(known if known is not None else run_id)
                start = int(record.get("logs_seen") or 0)
                ctx = TypedContext(who, key, filters, aclock)
                run, seen, typed = await _await_checked(handle, ctx, timeout, start, spec)
            if shared is not None:
                await shared.store.aput(
                    shared.namespace, who, result_item(run, who, _thread(config))
                )
            return with_output(update(record, who, run, aclock.now(), seen), key, who, typed)

        anode.__name__ = f"codegen_wait_{key}"
        return anode

    runs, clock = client.agent_runs, client.clock

    def node(state: Mapping[str, Any], config: RunnableConfig) -> Any:
        record, run_id = recorded_run(state, key)
        shared = _store_for(store_namespace, state)
        who = role or record.get("role") or key
        with call_context(role=who):
            known = _known_active(record, run_id, client.org_id)
            handle = runs.attach(known if known is not None else run_id)
            start = int(record.get("logs_seen") or 0)
            ctx = TypedContext(who, key, filters, clock)
            run, seen, typed = _wait_checked(handle, ctx, timeout, start, spec)
        if shared is not None:
            shared.store.put(shared.namespace, who, result_item(run, who, _thread(config)))
        return with_output(update(record, who, run, clock.now(), seen), key, who, typed)

    node.__name__ = f"codegen_wait_{key}"
    return node
