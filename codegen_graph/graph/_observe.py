"""What the nodes add around each Codegen operation: traces, output filters, shared context.

* **Traces.** Each operation a node makes is a LangSmith child run of the node
  (``codegen.create``, ``codegen.attach``, ``codegen.wait``, ``codegen.resume``) through
  :func:`~codegen_graph.observability.trace_operation`; each remote log entry of a waited
  run becomes a child of ``codegen.wait``, in log order. The log callback of an async
  ``follow`` runs in its own task, so the ``codegen.wait`` run tree is captured when the
  wait starts and passed as ``parent=`` explicitly.
* **Output filters.** An agent's result, summary and log entries go through the client's
  plugins' ``filter_output`` (e.g. :class:`~codegen_graph.plugins.OutputFilter`) and the
  node's own ``output_filter`` before they enter state, messages, stream events or traces.
* **Shared context.** With ``store_namespace=``, a node reads the items under that
  namespace of LangGraph's ``BaseStore`` into its prompt before launching, and writes its
  result there (keyed by role) when the run is done, so other threads see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langgraph.config import get_store, get_stream_writer
from langgraph.store.base import BaseStore, Item

from .._client import AsyncCodegenClient, CodegenClient
from ..models import AgentRunLogResponse, AgentRunResponse
from ..observability import OperationTrace, trace_log_entry
from ..plugins import Plugin, PluginContext, PluginManager
from ..tools import CODEGEN_LOG_EVENT, log_event_data

__all__ = [
    "LOG_EVENT",
    "LogSink",
    "OutputFilters",
    "StoreNamespace",
    "node_store",
    "read_context",
    "render_context",
    "result_item",
]

#: The name of the custom stream events nodes emit for each remote log entry: the tools'
#: :data:`~codegen_graph.tools.CODEGEN_LOG_EVENT`, one event for both.
LOG_EVENT = CODEGEN_LOG_EVENT

#: A store namespace, or a callable of the state returning one.
StoreNamespace = tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]]

_SEARCH_LIMIT = 100


class OutputFilters:
    """The ``filter_output`` hooks of a client's plugins plus a node's own filter."""

    def __init__(
        self, client: CodegenClient | AsyncCodegenClient, extra: Plugin | None = None
    ) -> None:
        hooks = client.plugins
        plugins: list[Plugin] = (
            list(hooks.plugins)
            if isinstance(hooks, PluginManager)
            else [hooks]
            if isinstance(hooks, Plugin)
            else []
        )
        if extra is not None:
            plugins.append(extra)
        self._pm = PluginManager(plugins) if plugins else None

    def run(self, run: AgentRunResponse, role: str) -> AgentRunResponse:
        """``run`` with its result and summary filtered."""
        if self._pm is None:
            return run
        return self._pm.filter_run(run, PluginContext(action="output", role=role))

    def text(self, text: str, role: str) -> str:
        """One text filtered (feedback taken from an agent's result, say)."""
        if self._pm is None:
            return text
        return self._pm.filter_output(text, PluginContext(action="output", role=role))

    def entry(self, entry: AgentRunLogResponse, role: str) -> AgentRunLogResponse:
        """A log entry whose texts (thought, observation, tool input and output) are filtered."""
        if self._pm is None:
            return entry
        ctx = PluginContext(action="output", role=role, agent_run_id=entry.agent_run_id)
        pm = self._pm

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                return pm.filter_output(value, ctx)
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            return value

        fields = ("thought", "observation", "tool_input", "tool_output")
        return entry.model_copy(update={f: walk(getattr(entry, f)) for f in fields})


class LogSink:
    """The ``on_log`` callback of a wait: filter, stream and trace each remote entry.

    Built inside the node (it captures the node's stream writer and the ``codegen.wait``
    run tree there), it may then be called from another task or thread.
    """

    def __init__(
        self, role: str, key: str, run_id: int, op: OperationTrace, filters: OutputFilters
    ) -> None:
        self._writer = get_stream_writer()
        self._parent = op.run_tree
        self._role, self._key, self._run_id = role, key, run_id
        self._filters = filters
        self.count = 0

    def __call__(self, entry: AgentRunLogResponse) -> None:
        entry = self._filters.entry(entry, self._role)
        self._writer(
            log_event_data(
                entry, exclude_none=True, event=LOG_EVENT, role=self._role, key=self._key
            )
        )
        if self._parent is not None:
            trace_log_entry(entry, parent=self._parent, index=self.count)
        self.count += 1


# -- shared context in a BaseStore -------------------------------------------------------


def node_store() -> BaseStore | None:
    """The store the graph was compiled with, when called inside a node (else ``None``)."""
    try:
        return get_store()
    except (RuntimeError, KeyError):
        return None


def namespace_for(spec: StoreNamespace, state: Mapping[str, Any]) -> tuple[str, ...]:
    """The namespace to use for this state."""
    ns = spec(state) if callable(spec) else spec
    if not ns or not all(isinstance(p, str) and p for p in ns):
        from .._exceptions import ConfigurationError

        raise ConfigurationError(
            f"store_namespace must be a non-empty tuple of non-empty strings, got {ns!r}"
        )
    return tuple(ns)


def _item_text(value: Mapping[str, Any]) -> str:
    for name in ("text", "summary", "result"):
        text = value.get(name)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return json.dumps(dict(value), sort_keys=True, default=str)


def render_context(items: Iterable[Item], namespace: tuple[str, ...]) -> str:
    """The prompt section for the items of a namespace (empty string for none)."""
    parts = []
    for item in sorted(items, key=lambda i: i.key):
        parts.append(f"### {item.key}\n{_item_text(item.value)}")
    if not parts:
        return ""
    return f"## Shared context ({'/'.join(namespace)})\n\n" + "\n\n".join(parts)


def read_context(store: BaseStore, namespace: tuple[str, ...]) -> str:
    """Read a namespace's items and render them for a prompt."""
    return render_context(store.search(namespace, limit=_SEARCH_LIMIT), namespace)


async def aread_context(store: BaseStore, namespace: tuple[str, ...]) -> str:
    """Async :func:`read_context`."""
    return render_context(await store.asearch(namespace, limit=_SEARCH_LIMIT), namespace)


def with_context(prompt: str, context: str) -> str:
    """The prompt with the shared context appended."""
    return f"{prompt.rstrip()}\n\n{context}\n" if context else prompt


def result_item(run: AgentRunResponse, role: str, thread_id: Any) -> dict[str, Any]:
    """The value a finished node writes under its role (the run's already filtered)."""
    status = run.status.canonical if run.status is not None else None
    return {
        "text": run.summary or run.result or f"agent run {run.id} ended {status}",
        "result": run.result,
        "summary": run.summary,
        "role": role,
        "agent_run_id": run.id,
        "status": status,
        "web_url": run.web_url,
        "pr_urls": run.pr_urls,
        "thread_id": thread_id,
    }
