"""``codegen_agent``: a Codegen cloud coding agent as a LangGraph agent of ``messages``.

The shape every LangGraph agent system composes (``create_agent``, ``create_supervisor``,
Deep Agents subagents, Agent Server assistants): a compiled graph with a ``name`` whose
input and output are ``messages``. The last human message is the task; the answer comes back
as an ``AIMessage`` named after the agent, with the run's pull requests and its web page.

**A conversation is one Codegen run.** The first human message of a thread creates the run;
each later one resumes that same run with the message. Each message is sent exactly once:
the create and the resume carry the message's key (:func:`~codegen_graph.graph.launch_key`'s
sibling ``message_key``: the thread, the agent, the message's position and text; no task id,
so a retry, a crash under any durability, or a subgraph's re-run finds it again). The run is
found from the agent's own state (``codegen_run``), else from its last answer in
``messages`` (``additional_kwargs["agent_run_id"]``), so a parent that keeps only messages
keeps the conversation. A message starting with ``/new`` starts a new run instead.

**Cancel means stop.** When the graph run is cancelled (``runs.cancel`` on an Agent Server,
Deep Agents' ``cancel_async_task``, a ``CancelledError``), the Codegen run is stopped
(``AgentRun.stop()``: Codegen's ``ban``). A later message on the thread resumes the same run:
an update (``multitask_strategy="interrupt"`` and a new message) redirects it. (With a
``timeout_policy``, LangGraph cancels the node to retry it: then a cancel is not a stop, and
the retry finds the run going. A parent that cancels this node because a sibling failed
stops it too.)
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy, TimeoutPolicy
from pydantic import BaseModel
from typing_extensions import TypedDict

from .. import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from .._output import DEFAULT_OUTPUT_ATTEMPTS
from ..models import AgentType
from ..plugins import Plugin
from ..resources import DEFAULT_KEY_LOOKBACK
from ._async import nodes as async_nodes
from ._nodes import lookback_seconds, node_spec
from ._retry import codegen_retry_policy
from ._state import RunRecord
from ._sync import nodes as sync_nodes

__all__ = ["CodegenAgentState", "codegen_agent"]


class CodegenAgentInput(TypedDict):
    """What the agent takes: ``messages`` (``MessagesState``'s key and reducer)."""

    messages: Annotated[list[AnyMessage], add_messages]


class CodegenAgentState(CodegenAgentInput, total=False):
    """The agent's state: ``messages``, and the record of its Codegen run."""

    codegen_run: RunRecord
    """The thread's Codegen run (kept in the agent's own namespace)."""


def codegen_agent(
    *,
    client: CodegenClient | AsyncCodegenClient | None = None,
    name: str = "codegen",
    repo_id: int | None = None,
    model: str | None = None,
    agent_type: AgentType | None = None,
    timeout: float | None = None,
    output_schema: type[BaseModel] | None = None,
    output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
    output_filter: Plugin | None = None,
    retry_policy: RetryPolicy | None = None,
    timeout_policy: TimeoutPolicy | None = None,
    key_lookback: float = DEFAULT_KEY_LOOKBACK,
    checkpointer: Any = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A Codegen agent as a compiled, named LangGraph graph of ``messages`` (see the module).

    Args:
        client: the client it works through (sync: sync node; async: async node, which
            LangGraph's ``timeout=`` and Agent Servers need). Default: an
            :class:`~codegen_graph.AsyncCodegenClient` from the environment
            (``CODEGEN_API_TOKEN``, ``CODEGEN_ORG_ID``).
        name: the graph's name, the ``name`` of its answers, its role in metadata and traces.
        repo_id: the repository the run works in (default: the org's).
        model: the model the agent uses (default: the org's).
        agent_type: ``"codegen"`` or ``"claude_code"`` (default: the org's).
        timeout: clock seconds to wait for each answer at most (``RunTimeoutError``; a retry
            of the node attaches to the same run and waits again).
        output_schema: a pydantic model the answer must hold as a JSON object (repaired by
            resuming, as in ``codegen_node``); the validated object is in the answer's
            ``additional_kwargs["output"]`` and the run record's ``output``.
        output_attempts: answers in all before ``OutputValidationError``.
        output_filter: a plugin cleaning the answer before it enters state and messages.
        retry_policy: the node's retry policy (default :func:`codegen_retry_policy`).
        timeout_policy: LangGraph's ``TimeoutPolicy`` for the node (async client only).
        key_lookback: seconds a message's key is looked back for when its run is not in
            state (default one day).
        checkpointer: passed to ``compile`` (none: the parent's, or the server's).

    Examples:
        >>> from codegen_graph.graph import codegen_agent  # doctest: +SKIP
        >>> agent = codegen_agent(name="coder")  # doctest: +SKIP
        >>> agent.invoke({"messages": [("user", "Add a /health endpoint")]})  # doctest: +SKIP
    """
    if client is None:
        client = AsyncCodegenClient()
    if timeout_policy is not None and not isinstance(client, AsyncCodegenClient):
        raise ConfigurationError(
            "timeout_policy= needs an async node: pass an AsyncCodegenClient (LangGraph refuses "
            "a TimeoutPolicy on sync nodes)"
        )
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise ConfigurationError(f"codegen_agent name must be one word, got {name!r}")
    spec = node_spec(
        client,
        name,
        name,
        output_filter,
        output_schema,
        output_attempts,
        repo_id=repo_id,
        model=model,
        agent_type=agent_type,
        timeout=timeout,
        key_lookback=lookback_seconds(key_lookback),
        # a TimeoutPolicy cancels the node to retry it: then a cancel is not a stop
        stop_on_cancel=timeout_policy is None,
    )
    node = (
        async_nodes.async_agent_node(client, spec)
        if isinstance(client, AsyncCodegenClient)
        else sync_nodes.agent_node(client, spec)
    )
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        CodegenAgentState, input_schema=CodegenAgentInput, output_schema=CodegenAgentState
    )
    builder.add_node(
        name, node, retry_policy=retry_policy or codegen_retry_policy(), timeout=timeout_policy
    )
    builder.add_edge(START, name)
    return builder.compile(checkpointer=checkpointer, name=name)
