"""LangSmith tracing of Codegen operations and of the remote agent's steps.

Tracing is **off by default** and follows LangSmith's standard environment variables:
``LANGSMITH_TRACING=true`` turns it on, ``LANGSMITH_API_KEY``, ``LANGSMITH_PROJECT`` and
``LANGSMITH_ENDPOINT`` say where runs go. :func:`enable_tracing` turns it on in code, with
a client whose ``anonymizer`` (and ``hide_inputs`` / ``hide_outputs`` / ``hide_metadata``)
is a :class:`~codegen_graph.observability.Redactor`, so inputs, outputs, metadata and error
texts of *every* run (LangGraph's too) are redacted before they leave the process.

How the runs nest (langsmith 0.15, langchain-core 1.x, langgraph 1.x):

* The parent of a new run is :func:`langsmith.run_helpers.get_current_run_tree`, a context
  variable (a weak reference to a ``RunTree``) set by ``@traceable``, ``trace(...)`` and
  ``tracing_context(parent=...)``.
* LangChain/LangGraph runs are not ``RunTree`` context by themselves: their tracer
  (``LangChainTracer``, attached through the ``RunnableConfig`` callbacks) keeps a
  ``run_map``. When a runnable (a LangGraph node included) runs, langchain-core's
  ``set_config_context`` looks up the callback manager's ``parent_run_id`` in that tracer's
  ``run_map`` and sets it as the current LangSmith parent (``_set_tracing_context``). So a
  ``@traceable`` function, ``langsmith.trace(...)`` or :func:`trace_operation` called
  *inside a node* nests under the node's run with no config passed around; LangGraph's
  executor copies the context into its worker threads and tasks, so this holds for sync and
  async nodes.
* In code running in a thread or task the caller started itself, the context is lost:
  capture ``get_current_run_tree()`` in the node and pass it as ``parent=``.
* A child ``RunTree`` sends through its parent's client. For a LangGraph run that is the
  tracer's client, i.e. LangSmith's global client (``langsmith.run_trees.get_cached_client``)
  which :func:`enable_tracing` replaces via ``langsmith.configure(client=...)``; that is why
  redaction must be configured on the client and not on individual runs.
* ``RunTree.create_child`` clamps a child's ``start_time`` to its parent's; the
  ``dotted_order`` (start time in microseconds, then id) orders siblings. Remote log entries
  are given strictly increasing start times so they appear in log order.

When tracing is off, :func:`trace_operation` and :func:`trace_log_entry` check one flag
and return; nothing is built or serialised.
"""

from __future__ import annotations

import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .._redact import MIN_SECRET_LENGTH, Redactor, get_redactor, swap_active_redactor
from .._status import AgentRunStatus
from .._timestamps import parse_timestamp
from ._contract import SUBAGENT_KEYS, coding_agent_metadata

if TYPE_CHECKING:
    import langsmith
    from langsmith.run_trees import RunTree

    from ..models import AgentRunLogResponse, AgentRunResponse, AgentRunWithLogsResponse

__all__ = [
    "OperationTrace",
    "disable_tracing",
    "enable_tracing",
    "flush_tracing",
    "get_redactor",
    "log_entry_run_type",
    "run_metadata",
    "trace_log_entries",
    "trace_log_entry",
    "trace_operation",
    "tracing",
    "tracing_is_enabled",
]

RunType = Literal["tool", "chain", "llm", "retriever", "embedding", "prompt", "parser"]

_lock = threading.Lock()
_saved: list[tuple[Any, Any, Any, Redactor | None]] = []
_active_clients: list[langsmith.Client] = []


# -- switching tracing on and off -------------------------------------------------------


def tracing_is_enabled() -> bool:
    """Whether LangSmith tracing is on here (env vars, :func:`enable_tracing`, or mid-trace)."""
    from langsmith import utils as ls_utils

    return bool(ls_utils.tracing_is_enabled())


def _live_redact(value: Any) -> Any:
    """LangSmith's anonymizer/hide hooks: whatever :func:`get_redactor` is at call time, so
    secrets registered after tracing was enabled (a client made later) are redacted too."""
    return get_redactor()(value)


def enable_tracing(
    *,
    project: str | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    redactor: Redactor | None = None,
) -> langsmith.Client:
    """Turn LangSmith tracing on for this process, with redaction.

    Unset arguments fall back to ``LANGSMITH_PROJECT``, ``LANGSMITH_ENDPOINT`` and
    ``LANGSMITH_API_KEY``. The new client becomes LangSmith's global client (the one
    LangChain and LangGraph trace through) and its ``anonymizer``, ``hide_inputs``,
    ``hide_outputs`` and ``hide_metadata`` hooks apply ``redactor`` (default:
    :meth:`Redactor.from_env`, which also learns ``api_key``). Undo with
    :func:`disable_tracing`, or use :func:`tracing` as a context manager.

    Args:
        project: The LangSmith project runs go to.
        endpoint: The LangSmith API URL (for tests, a :class:`LangSmithSink` ``.url``).
        api_key: The LangSmith API key.
        redactor: What to redact; known secret values and patterns.

    Returns:
        The configured ``langsmith.Client``; call ``.flush()`` before reading results.
    """
    import langsmith
    from langsmith import run_trees

    # The one use of LangSmith's private state in the package: langsmith.configure() has
    # no getter, so to let disable_tracing() restore what was configured before, the
    # globals configure() writes (run_trees._CLIENT, _context._GLOBAL_*) are read here.
    from langsmith._internal import _context

    base = redactor if redactor is not None else Redactor.from_env()
    red = base.with_secrets(api_key) if api_key and len(api_key) >= MIN_SECRET_LENGTH else base
    client = langsmith.Client(
        api_url=endpoint,
        api_key=api_key,
        anonymizer=_live_redact,
        hide_inputs=_live_redact,
        hide_outputs=_live_redact,
        hide_metadata=_live_redact,
    )
    with _lock:
        _saved.append(
            (
                run_trees._CLIENT,
                _context._GLOBAL_TRACING_ENABLED,
                _context._GLOBAL_PROJECT_NAME,
                swap_active_redactor(red),
            )
        )
        _active_clients.append(client)
    if project is not None:
        langsmith.configure(client=client, enabled=True, project_name=project)
    else:
        langsmith.configure(client=client, enabled=True)
    return client


def disable_tracing() -> None:
    """Undo the latest :func:`enable_tracing`: flush its client, restore what was before.

    With nothing to undo, tracing falls back to the environment variables.
    """
    import langsmith

    with _lock:
        previous = _saved.pop() if _saved else (None, None, None, None)
        client = _active_clients.pop() if _active_clients else None
        swap_active_redactor(previous[3])
    if client is not None:
        client.flush()
    langsmith.configure(client=previous[0], enabled=previous[1], project_name=previous[2])


def flush_tracing(timeout: float | None = None) -> None:
    """Send everything traced so far: the active client and LangChain's tracers."""
    from langchain_core.tracers.langchain import wait_for_all_tracers

    with _lock:
        clients = list(_active_clients)
    for client in clients:
        client.flush(timeout=timeout)
    wait_for_all_tracers()


@contextmanager
def tracing(
    *,
    project: str | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    redactor: Redactor | None = None,
) -> Iterator[langsmith.Client]:
    """:func:`enable_tracing` for a block; flushes and restores on exit.

    Examples:
        >>> with LangSmithSink() as sink, tracing(endpoint=sink.url, api_key="k"):  # doctest: +SKIP
        ...     graph.invoke({...})
        >>> print(sink.render_tree())  # doctest: +SKIP
    """
    client = enable_tracing(project=project, endpoint=endpoint, api_key=api_key, redactor=redactor)
    try:
        yield client
    finally:
        try:
            flush_tracing()
        finally:
            disable_tracing()


# -- metadata ---------------------------------------------------------------------------


def run_metadata(run: AgentRunResponse | AgentRunWithLogsResponse) -> dict[str, Any]:
    """The trace metadata of an agent run: id, org, status, web URL and PR URLs."""
    status = run.status
    return {
        "agent_run_id": run.id,
        "org_id": run.organization_id,
        "status": AgentRunStatus(status).canonical if status is not None else None,
        "web_url": run.web_url,
        # a run with logs carries no pull requests in the spec
        "pr_urls": list(getattr(run, "pr_urls", None) or []),
    }


# -- operations -------------------------------------------------------------------------


class OperationTrace:
    """The handle :func:`trace_operation` yields: the operation's run, or a no-op.

    Every method does nothing when tracing is off, so callers never branch on it.
    """

    __slots__ = ("_redactor", "run_tree")

    def __init__(self, run_tree: RunTree | None, redactor: Redactor | None) -> None:
        self.run_tree = run_tree
        self._redactor = redactor

    @property
    def enabled(self) -> bool:
        """Whether this operation is being traced."""
        return self.run_tree is not None

    def add_metadata(self, **metadata: Any) -> None:
        """Add (redacted) metadata to the operation's run."""
        if self.run_tree is not None and self._redactor is not None:
            self.run_tree.add_metadata(self._redactor.redact(metadata))

    def record_run(self, run: AgentRunResponse | AgentRunWithLogsResponse) -> None:
        """Put the agent run's id, org, status, web URL and PR URLs in the metadata."""
        if self.run_tree is not None:
            self.add_metadata(**run_metadata(run))

    def set_outputs(self, outputs: Mapping[str, Any]) -> None:
        """Set the operation's outputs (redacted)."""
        if self.run_tree is not None and self._redactor is not None:
            self.run_tree.add_outputs(self._redactor.redact(dict(outputs)))

    def log_entries(self, entries: Iterable[AgentRunLogResponse]) -> int:
        """Record remote log entries as children of this operation, in order.

        Returns:
            How many child runs were recorded (0 when tracing is off).
        """
        if self.run_tree is None:
            return 0
        return len(trace_log_entries(entries, parent=self.run_tree, redactor=self._redactor))


_DISABLED = OperationTrace(None, None)


def _with_thread(run_tree: RunTree) -> RunTree:
    """Give a run the contract's ``thread_id``: its parent's (LangGraph's thread, inherited),
    else the trace's own id, so even a traced call outside a graph groups as a thread."""
    metadata = run_tree.extra.setdefault("metadata", {})
    if not metadata.get("thread_id"):
        metadata["thread_id"] = str(run_tree.trace_id)
    return run_tree


class trace_operation:
    """Trace one Codegen operation as a child run of whatever run is current.

    Use it around each API operation a node or tool makes (names like ``codegen.create``,
    ``codegen.wait``, ``codegen.resume``); it works as a sync and an async context manager
    and yields an :class:`OperationTrace`. Inputs, metadata, outputs and the error text are
    redacted with :func:`get_redactor` (or ``redactor=``). When tracing is off it yields a
    shared no-op handle.

    Args:
        name: The run name, e.g. ``"codegen.wait"``.
        inputs: The operation's inputs (the prompt, the run id...).
        metadata: Extra metadata; ``role`` is added when given.
        run_type: LangSmith run type.
        role: The node's role (``"code"``, ``"review"``...), stored as metadata ``role``.
        parent: An explicit parent ``RunTree`` (default: the current run).
        redactor: Overrides :func:`get_redactor`.

    Examples:
        >>> with trace_operation("codegen.wait", inputs={"agent_run_id": 7}, role="code") as op:
        ...     run = handle.wait()  # doctest: +SKIP
        ...     op.record_run(run)  # doctest: +SKIP
        ...     op.log_entries(run.logs)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_type: RunType = "chain",
        role: str | None = None,
        parent: RunTree | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.metadata = metadata
        self.run_type = run_type
        self.role = role
        self.parent = parent
        self.redactor = redactor
        self._trace: Any = None
        self._handle: OperationTrace = _DISABLED

    def _make(self) -> Any:
        from langsmith.run_helpers import trace

        red = self.redactor or get_redactor()
        meta = {**coding_agent_metadata(), **(self.metadata or {})}
        if self.role is not None:
            meta["role"] = self.role
        self._trace = trace(
            self.name,
            self.run_type,
            inputs=red.redact(dict(self.inputs or {})),
            metadata=red.redact(meta),
            parent=self.parent,
        )
        return red

    def _error_text(
        self, exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None
    ) -> str:
        red = self.redactor or get_redactor()
        return red.redact_text("".join(traceback.format_exception(exc_type, exc, tb)))

    def __enter__(self) -> OperationTrace:
        if self.parent is None and not tracing_is_enabled():
            return _DISABLED
        red = self._make()
        self._handle = OperationTrace(_with_thread(self._trace.__enter__()), red)
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._trace is None:
            return
        if exc_type is not None and self._handle.run_tree is not None:
            # Record a redacted error ourselves: langsmith's own would keep the raw text.
            self._handle.run_tree.end(error=self._error_text(exc_type, exc, tb))
        self._trace.__exit__(None, None, None)
        self._trace = None

    async def __aenter__(self) -> OperationTrace:
        if self.parent is None and not tracing_is_enabled():
            return _DISABLED
        red = self._make()
        self._handle = OperationTrace(_with_thread(await self._trace.__aenter__()), red)
        return self._handle

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._trace is None:
            return
        if exc_type is not None and self._handle.run_tree is not None:
            self._handle.run_tree.end(error=self._error_text(exc_type, exc, tb))
        await self._trace.__aexit__(None, None, None)
        self._trace = None


# -- remote log entries -----------------------------------------------------------------

_EPSILON = timedelta(microseconds=1)
# Last start time given to a log-entry child, per parent run id (bounded).
_last_start: OrderedDict[str, datetime] = OrderedDict()
_LAST_START_MAX = 1024


def log_entry_run_type(entry: AgentRunLogResponse) -> RunType:
    """``"tool"`` for ``ACTION`` entries (tool calls), ``"chain"`` for every other kind."""
    return "tool" if (entry.message_type or "").upper() == "ACTION" else "chain"


def _entry_fields(
    entry: AgentRunLogResponse,
) -> tuple[str, dict[str, Any], dict[str, Any], str | None]:
    kind = (entry.message_type or "LOG").upper()
    if kind == "ACTION":
        outputs: dict[str, Any] = dict(entry.tool_output or {})
        if not outputs and entry.observation is not None:
            outputs = {"observation": entry.observation}
        return entry.tool_name or "action", dict(entry.tool_input or {}), outputs, None
    inputs = {"thought": entry.thought} if entry.thought is not None else {}
    outputs = {"observation": entry.observation} if entry.observation is not None else {}
    error = None
    if kind == "ERROR":
        error = str(entry.observation or entry.thought or "error")
    return kind.lower(), inputs, outputs, error


def trace_log_entry(
    entry: AgentRunLogResponse,
    *,
    parent: RunTree | None = None,
    index: int | None = None,
    redactor: Redactor | None = None,
) -> RunTree | None:
    """Record one remote log entry as its own child run, and send it.

    ``ACTION`` entries become ``tool`` runs named for ``tool_name`` with ``tool_input`` as
    inputs and ``tool_output`` as outputs; ``PLAN_EVALUATION``, ``FINAL_ANSWER``, ``ERROR``,
    ``USER_MESSAGE`` (and unknown kinds) become ``chain`` runs named for the lower-cased
    type, with the thought as input and the observation as output (``ERROR`` also sets the
    run's error). The start and end time is the entry's ``created_at``, moved just after
    the previous entry's of the same parent so the trace keeps log order.

    Args:
        entry: The log entry.
        parent: The run to attach to (default: the current run, e.g. inside
            :func:`trace_operation`).
        index: The entry's position in the run's log, stored as metadata ``log_index``.
        redactor: Overrides :func:`get_redactor`.

    Returns:
        The child run, or ``None`` when tracing is off or there is no parent.
    """
    if parent is None:
        if not tracing_is_enabled():
            return None
        from langsmith.run_helpers import get_current_run_tree

        parent = get_current_run_tree()
        if parent is None:
            return None
    red = redactor or get_redactor()
    name, inputs, outputs, error = _entry_fields(entry)
    metadata: dict[str, Any] = {
        **coding_agent_metadata(),
        "agent_run_id": entry.agent_run_id,
        "message_type": entry.message_type,
        "remote_created_at": entry.created_at,
    }
    if index is not None:
        metadata["log_index"] = index
    if entry.thought is not None and log_entry_run_type(entry) == "tool":
        metadata["thought"] = entry.thought
    start = parse_timestamp(entry.created_at) or datetime.now(timezone.utc)
    key = str(parent.id)
    with _lock:
        floor = max(parent.start_time, _last_start.get(key, parent.start_time - _EPSILON))
        if start <= floor:
            start = floor + _EPSILON
        _last_start[key] = start
        _last_start.move_to_end(key)
        while len(_last_start) > _LAST_START_MAX:
            _last_start.popitem(last=False)
    child = parent.create_child(
        name=name,
        run_type=log_entry_run_type(entry),
        inputs=red.redact(inputs),
        outputs=red.redact(outputs),
        error=red.redact_text(error) if error is not None else None,
        start_time=start,
        end_time=start,
        extra={"metadata": red.redact(metadata)},
        tags=["codegen.remote_step"],
    )
    # A remote step inherits its parent's metadata; the subagent-only keys are not its own.
    inherited = child.extra.setdefault("metadata", {})
    for scoped in SUBAGENT_KEYS:
        inherited.pop(scoped, None)
    _with_thread(child)
    child.post()
    return child


def trace_log_entries(
    entries: Iterable[AgentRunLogResponse],
    *,
    parent: RunTree | None = None,
    start_index: int = 0,
    redactor: Redactor | None = None,
) -> list[RunTree]:
    """:func:`trace_log_entry` for each entry, in order; ``log_index`` counts from ``start_index``.

    Returns:
        The child runs (empty when tracing is off or there is no parent).
    """
    children: list[RunTree] = []
    for offset, entry in enumerate(entries):
        child = trace_log_entry(entry, parent=parent, index=start_index + offset, redactor=redactor)
        if child is None:
            break
        children.append(child)
    return children
