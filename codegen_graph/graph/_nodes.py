"""Codegen agent runs as LangGraph nodes, launched exactly once.

A remote agent run costs money and minutes, so a node that is re-executed - a
``RetryPolicy`` retry, a thread resumed from its checkpoint after a crash, a replay - must
attach to the run it already launched, never create a second one. Two mechanisms make
launch exactly-once:

1. **State**: a launched run is recorded in ``state["runs"][key]`` with its iteration. A node
   that finds a record for its key and iteration attaches to that run.
2. **Idempotency key**: before the record is checkpointed (a crash between the create call
   and the checkpoint), the only trace of the run is on the server. Every launch carries a
   key derived from the thread, the checkpoint namespace, the LangGraph task id (a
   deterministic hash of checkpoint, namespace, step and node, so it is identical when the
   same checkpoint is resumed) and the iteration (:func:`launch_key`). The client stores it in
   the run's ``metadata``; before creating, the node looks it up among the org's most recent
   runs and attaches to the run it finds.

:func:`codegen_node` (``wait=False``) and :func:`codegen_wait_node` split launch and wait so
the run id is checkpointed before the (long) wait begins; ``wait=True`` does both in one
node, still exactly-once through the idempotency key.

Nodes built on a :class:`~codegen_graph.CodegenClient` are sync functions (they work with
``invoke`` and ``ainvoke``); nodes built on an :class:`~codegen_graph.AsyncCodegenClient` are
coroutine functions, so LangGraph's node ``timeout=`` applies to them.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from .._client import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from ..models import AgentRunLogResponse, AgentRunResponse, AgentType
from ._keys import launch_key
from ._state import RunRecord

__all__ = ["PromptSpec", "codegen_node", "codegen_wait_node", "render_prompt"]

#: A prompt: a ``str.format`` template filled from the state, or a callable of the state.
PromptSpec = str | Callable[[Mapping[str, Any]], str]

#: The name of the custom stream events nodes emit for each remote log entry.
LOG_EVENT = "codegen_log"

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
) -> RunRecord:
    """The JSON-safe record of a run that goes into ``state["runs"]``."""
    status = run.status.canonical if run.status is not None else "PENDING"
    return RunRecord(
        key=key,
        agent_run_id=run.id,
        role=role,
        status=status,
        result=run.result,
        summary=run.summary,
        pr_urls=[pr.url for pr in run.github_pull_requests or [] if pr.url],
        web_url=run.web_url,
        attempts=attempts,
        iteration=iteration,
        created_at=started_at,
        finished_at=finished_at,
        updated_at=now if now is not None else finished_at or started_at,
        idempotency_key=idempotency_key or "",
    )


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


def _log_forwarder(role: str, key: str, run_id: int) -> Callable[[AgentRunLogResponse], None]:
    writer = get_stream_writer()

    def forward(entry: AgentRunLogResponse) -> None:
        writer(
            {
                "event": LOG_EVENT,
                "role": role,
                "key": key,
                "agent_run_id": run_id,
                "entry": entry.model_dump(mode="json", exclude_none=True),
            }
        )

    return forward


class _Launch(NamedTuple):
    """What a launching node must do: attach to ``attach_id``, or create with ``key``."""

    iteration: int
    attach_id: int | None
    prompt: str | None = None
    key: str | None = None


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
    )
    return _finished_update(key, role, record, run) if finished else {"runs": {key: record}}


def codegen_node(
    role: str,
    prompt: PromptSpec,
    *,
    client: CodegenClient | AsyncCodegenClient,
    key: str | None = None,
    repo_id: int | None = None,
    model: str | None = None,
    agent_type: AgentType | None = None,
    wait: bool = True,
    timeout: float | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> _Node:
    """A graph node that launches a Codegen agent run (exactly once) and, by default, waits.

    Args:
        role: the agent's role (``"code"``, ``"tests"``, ...): names the AIMessage and the
            artifacts entry.
        prompt: a ``str.format`` template over the state (``"Implement: {task}"``) or a
            callable of the state.
        client: a sync or async client; it decides whether the node is sync or async.
        key: the key of the run in ``state["runs"]`` (default: ``role``).
        repo_id: the repository the agent works in.
        model: the model the agent uses (default: the org's).
        agent_type: ``"codegen"`` or ``"claude_code"`` (default: the org's).
        wait: ``False`` records the launched run and returns at once; pair it with
            :func:`codegen_wait_node` so the run id is checkpointed before waiting.
        timeout: clock seconds to wait at most (raises ``RunTimeoutError``; a retry of the
            node re-attaches to the same run).
        metadata: extra metadata stored with the run.

    The node reads ``state["iterations"][key]`` (default 1) as the iteration, forwards each
    remote log entry to LangGraph's custom stream (``stream_mode="custom"``, events named
    :data:`LOG_EVENT`), and on completion writes ``runs``, ``artifacts`` and an
    ``AIMessage`` named after the role.
    """
    key = key or role
    create: dict[str, Any] = {"repo_id": repo_id, "model": model, "agent_type": agent_type}
    extra_meta = dict(metadata or {})

    def plan(state: Mapping[str, Any], config: RunnableConfig) -> _Launch:
        iteration = _iteration(state, key)
        attach_id = _attachable(state, key, iteration)
        if attach_id is not None:
            return _Launch(iteration, attach_id)
        text = render_prompt(prompt, state)
        return _Launch(iteration, None, text, launch_key(config, key, iteration))

    def run_metadata(config: RunnableConfig) -> dict[str, Any]:
        thread = (config.get("configurable") or {}).get("thread_id")
        return {"codegen_graph_role": role, "codegen_graph_thread": thread, **extra_meta}

    def update(launch: _Launch, run: AgentRunResponse, started: float, now: float) -> Any:
        return _record_update(
            key,
            role,
            run,
            iteration=launch.iteration,
            idem=launch.key,
            started=started,
            now=now,
            finished=wait,
        )

    if isinstance(client, AsyncCodegenClient):
        aruns, aclock = client.agent_runs, client.clock

        async def anode(state: Mapping[str, Any], config: RunnableConfig) -> Any:
            launch, started = plan(state, config), aclock.now()
            handle = (
                await aruns.attach(launch.attach_id)
                if launch.attach_id is not None
                else await aruns.start(
                    launch.prompt or "",
                    idempotency_key=launch.key,
                    reuse_existing=True,
                    metadata=run_metadata(config),
                    **create,
                )
            )
            if wait:
                await handle.follow(_log_forwarder(role, key, handle.id), timeout=timeout)
            return update(launch, handle.data, started, aclock.now())

        anode.__name__ = f"codegen_{key}"
        return anode

    runs, clock = client.agent_runs, client.clock

    def node(state: Mapping[str, Any], config: RunnableConfig) -> Any:
        launch, started = plan(state, config), clock.now()
        handle = (
            runs.attach(launch.attach_id)
            if launch.attach_id is not None
            else runs.start(
                launch.prompt or "",
                idempotency_key=launch.key,
                reuse_existing=True,
                metadata=run_metadata(config),
                **create,
            )
        )
        if wait:
            handle.follow(_log_forwarder(role, key, handle.id), timeout=timeout)
        return update(launch, handle.data, started, clock.now())

    node.__name__ = f"codegen_{key}"
    return node


def _recorded(state: Mapping[str, Any], key: str) -> tuple[RunRecord, int]:
    record: RunRecord | None = (state.get("runs") or {}).get(key)
    run_id = record.get("agent_run_id") if record else None
    if record is None or not run_id:
        raise ConfigurationError(
            f"no launched run under state['runs'][{key!r}]: put a codegen_node(..., "
            "wait=False) with that key before this node"
        )
    return record, int(run_id)


def codegen_wait_node(
    key: str,
    *,
    client: CodegenClient | AsyncCodegenClient,
    role: str | None = None,
    timeout: float | None = None,
) -> _Node:
    """A node that waits for the run recorded under ``state["runs"][key]``.

    It never launches anything: re-executing it (retry, crash, replay) only waits again.
    Log entries are forwarded to the custom stream as in :func:`codegen_node`.
    """

    def update(record: RunRecord, run: AgentRunResponse, now: float) -> Any:
        return _record_update(
            key,
            role or record.get("role") or key,
            run,
            iteration=int(record.get("iteration", 1)),
            idem=record.get("idempotency_key"),
            started=record.get("created_at"),
            now=now,
            finished=True,
        )

    if isinstance(client, AsyncCodegenClient):
        aruns, aclock = client.agent_runs, client.clock

        async def anode(state: Mapping[str, Any]) -> Any:
            record, run_id = _recorded(state, key)
            handle = await aruns.attach(run_id)
            who = role or record.get("role") or key
            await handle.follow(_log_forwarder(who, key, run_id), timeout=timeout)
            return update(record, handle.data, aclock.now())

        anode.__name__ = f"codegen_wait_{key}"
        return anode

    runs, clock = client.agent_runs, client.clock

    def node(state: Mapping[str, Any]) -> Any:
        record, run_id = _recorded(state, key)
        handle = runs.attach(run_id)
        handle.follow(
            _log_forwarder(role or record.get("role") or key, key, run_id), timeout=timeout
        )
        return update(record, handle.data, clock.now())

    node.__name__ = f"codegen_wait_{key}"
    return node
