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
   step is re-run. The client's one keyed path (see ``docs/client.md``) finds the key's run
   before creating, looking back ``key_lookback`` seconds (one day by default) - and never
   less than the earliest bound any attempt of the process gave for the key.

:func:`codegen_node` (``wait=False``) and :func:`codegen_wait_node` split launch and wait so
the run id is checkpointed before the (long) wait begins; ``wait=True`` does both in one
node, still exactly-once through the idempotency key.

This module holds the decisions (no I/O) and the factories; the nodes' work (launch,
attach, wait, check) is written once in ``graph/_async/nodes.py``, and the sync nodes are
generated from it. Nodes built on a :class:`~codegen_graph.CodegenClient` are sync
functions (they work with ``invoke`` and ``ainvoke``); nodes built on an
:class:`~codegen_graph.AsyncCodegenClient` are coroutine functions, so LangGraph's node
``timeout=`` applies to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from .. import AsyncCodegenClient, CodegenClient
from .._checks import check_timeout
from .._exceptions import ConfigurationError
from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec
from ..models import AgentRunResponse, AgentType
from ..plugins import Plugin
from ..resources import DEFAULT_KEY_LOOKBACK
from ._async import nodes as async_nodes
from ._launch import NodeSpec, PromptSpec, ResumePlan, render_prompt
from ._observe import LOG_EVENT, OutputFilters, StoreNamespace
from ._sync import nodes as sync_nodes

__all__ = [
    "LOG_EVENT",
    "PromptSpec",
    "StoreNamespace",
    "codegen_node",
    "codegen_wait_node",
    "lookback_seconds",
    "node_spec",
    "render_prompt",
    "resume_node",
]

_Node = Callable[..., Any]


# -- the factories -----------------------------------------------------------------------------


def node_spec(
    client: CodegenClient | AsyncCodegenClient,
    role: str,
    key: str,
    output_filter: Plugin | None,
    output_schema: type[BaseModel] | None,
    output_attempts: int,
    **fields: Any,
) -> NodeSpec:
    output = (
        None if output_schema is None else OutputSpec(output_schema, max_attempts=output_attempts)
    )
    # A bad timeout fails the graph's building, as a handle's wait fails: not the first
    # run of the node after it started a run.
    fields["timeout"] = check_timeout(fields.get("timeout"))
    filters = OutputFilters(output_filter)
    return NodeSpec(
        role=role, key=key, clock=client.clock, filters=filters, output=output, **fields
    )


def lookback_seconds(key_lookback: Any) -> float:
    """``key_lookback`` checked: a number of seconds, at least 0 (every node factory)."""
    if isinstance(key_lookback, bool) or not isinstance(key_lookback, (int, float)):
        raise ConfigurationError(f"key_lookback must be seconds, got {key_lookback!r}")
    if key_lookback < 0:
        raise ConfigurationError(f"key_lookback must be >= 0, got {key_lookback!r}")
    return float(key_lookback)


def _build(client: CodegenClient | AsyncCodegenClient, spec: NodeSpec, kind: str) -> _Node:
    if isinstance(client, AsyncCodegenClient):
        factory = async_nodes.async_launch_node if kind == "launch" else async_nodes.async_wait_node
        return factory(client, spec)
    build = sync_nodes.launch_node if kind == "launch" else sync_nodes.wait_node
    return build(client, spec)


def resume_node(
    client: CodegenClient | AsyncCodegenClient,
    plan: Callable[[Any, RunnableConfig], ResumePlan],
    done: Callable[[Any, ResumePlan, AgentRunResponse], Any],
) -> _Node:
    """A node that resumes a run with ``plan(state, config)`` (keyed: at most once) and
    returns ``done(state, plan, run)``."""
    if isinstance(client, AsyncCodegenClient):
        return async_nodes.async_resume_node(client, plan, done)
    return sync_nodes.resume_node(client, plan, done)


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
        key_lookback: seconds before now that a launch with no run recorded in state yet
            (a retry, a re-run after a crash) looks back for its key's run (default one day;
            a key's lookup only ever widens, to the earliest bound given for it).
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
    spec = node_spec(
        client,
        role,
        key,
        output_filter,
        output_schema,
        output_attempts,
        prompt=prompt,
        repo_id=repo_id,
        model=model,
        agent_type=agent_type,
        wait=wait,
        timeout=timeout,
        metadata=metadata,
        store_namespace=store_namespace,
        key_lookback=lookback_seconds(key_lookback),
    )
    return _build(client, spec, "launch")


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
    spec = node_spec(
        client,
        role or "",
        key,
        output_filter,
        output_schema,
        output_attempts,
        timeout=timeout,
        store_namespace=store_namespace,
    )
    return _build(client, spec, "wait")
