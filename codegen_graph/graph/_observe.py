"""What the nodes add around each Codegen operation: traces, output filters, shared context.

* **Traces.** Each operation a node makes is a LangSmith child run of the node
  (``codegen.create``, ``codegen.attach``, ``codegen.wait``, ``codegen.resume``) through
  :func:`~codegen_graph.observability.trace_operation`; each remote log entry of a waited
  run becomes a child of ``codegen.wait``, in log order. The log callback of an async
  ``follow`` runs in its own task, so the ``codegen.wait`` run tree is captured when the
  wait starts and passed as ``parent=`` explicitly.
* **Output filters.** An agent's result, summary and log entries went through the client's
  plugins' ``filter_output`` (e.g. :class:`~codegen_graph.plugins.OutputFilter`) when the
  client read them; a node's own ``output_filter`` cleans them again before they enter
  state, messages, stream events or traces.
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

from .._hooks import filter_texts
from ..models import AgentRunLogResponse, AgentRunResponse
from ..observability import OperationTrace, trace_log_entry
from ..plugins import Plugin, PluginContext, PluginManager
from ..tools import CODEGEN_LOG_EVENT, log_event_data

__all__ = [
    "LOG_EVENT",
    "LogSink",
    "OutputFilters",
    "StoreNamespace",
    "namespace_for",
    "node_store",
    "render_context",
    "with_context",
]

#: The name of the custom stream events nodes emit for each remote log entry: the tools'
#: :data:`~codegen_graph.tools.CODEGEN_LOG_EVENT`, one event for both.
LOG_EVENT = CODEGEN_LOG_EVENT

#: A store namespace, or a callable of the state returning one.
StoreNamespace = tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]]


class OutputFilters:
    """A node's own ``output_filter`` (the client's plugins already filtered every answer
    read through the client: see ``docs/observability.md``)."""

    def __init__(self, extra: Plugin | None = None) -> None:
        self._pm = PluginManager([extra]) if extra is not None else None

    def _clean(self, role: str, run_id: int | None = None) -> Callable[[str], str] | None:
        if self._pm is None:
            return None
        pm, ctx = self._pm, PluginContext(action="output", role=role, agent_run_id=run_id)
        return lambda text: pm.filter_output(text, ctx)

    def run(self, run: AgentRunResponse, role: str) -> AgentRunResponse:
        """``run`` with its result and summary filtered."""
        clean = self._clean(role, run.id)
        return run if clean is None else filter_texts(run, clean)

    def text(self, text: str, role: str) -> str:
        """One text filtered (feedback taken from an agent's result, say)."""
        clean = self._clean(role)
        return text if clean is None else clean(text)

    def entry(self, entry: AgentRunLogResponse, role: str) -> AgentRunLogResponse:
        """A log entry whose texts (thought, observation, tool input and output) are filtered."""
        clean = self._clean(role, entry.agent_run_id)
        return entry if clean is None else filter_texts(entry, clean)


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


def with_context(prompt: str, context: str) -> str:
    """The prompt with the shared context appended."""
    return f"{prompt.rstrip()}\n\n{context}\n" if context else prompt
