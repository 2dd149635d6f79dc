"""Progress events, and running a tool's sync or async half from the other world.

Progress: while a tool waits on a run, each new remote log entry is dispatched as a
LangChain custom event named :data:`CODEGEN_LOG_EVENT` with data
``{"agent_run_id": int, "entry": dict}`` (the entry is ``AgentRunLogResponse`` dumped as
JSON). ``astream_events(version="v2")`` shows them as ``on_custom_event`` (so does
LangGraph's ``stream_mode="events"``). A custom event needs a parent run; a tool invoked
through ``invoke``/``ainvoke``/``run`` always has one (its own run). A ``_run`` called
directly, without a run manager, simply emits nothing.

Inside a LangGraph graph (a ``ToolNode``, ``create_agent``, a supervisor) each entry is also
written to the graph's stream writer, so ``stream_mode="custom"`` carries
``{"event": "codegen_log", "tool": <tool name>, "agent_run_id": int, "entry": dict}`` (plus
fields a tool adds, such as the agent's ``role``): the same shape as the graph nodes' log
events. Outside a graph there is no writer and nothing is written.

Bridging, when a tool holds only one kind of client:

* sync call, async client only: the coroutine runs on one private event loop in a daemon
  thread (shared by every Codegen tool of the process, so the client's connections and
  watcher stay on one loop); log entries travel back through a queue and are dispatched on
  the calling thread, in order.
* async call, sync client only: the sync half runs in ``asyncio.to_thread``; log entries
  travel back with ``call_soon_threadsafe`` and are dispatched on the event loop, in order.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from langchain_core.callbacks import (
    AsyncCallbackManagerForToolRun,
    CallbackManagerForToolRun,
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from ..models import AgentRunLogResponse

__all__ = [
    "CODEGEN_LOG_EVENT",
    "AsyncLogSink",
    "SyncLogSink",
    "async_emitter",
    "graph_writer",
    "in_thread",
    "log_event_data",
    "on_private_loop",
    "skip_first",
    "sync_emitter",
]

T = TypeVar("T")

#: The name of the custom event each new remote log entry is dispatched as.
CODEGEN_LOG_EVENT = "codegen_log"

SyncLogSink = Callable[[AgentRunLogResponse], None]
AsyncLogSink = Callable[[AgentRunLogResponse], Awaitable[None]]

_DONE = object()


def log_event_data(
    entry: AgentRunLogResponse, *, exclude_none: bool = False, **fields: Any
) -> dict[str, Any]:
    """The one payload of a :data:`CODEGEN_LOG_EVENT`: ``fields``, the run id and the entry.

    Tools send the entry whole; graph nodes (``exclude_none=True``) drop its empty fields.
    """
    return {
        **fields,
        "agent_run_id": entry.agent_run_id,
        "entry": entry.model_dump(mode="json", exclude_none=exclude_none),
    }


def _event_data(entry: AgentRunLogResponse) -> dict[str, Any]:
    return log_event_data(entry)


def graph_writer(fields: Mapping[str, Any]) -> SyncLogSink | None:
    """A sink writing entries to LangGraph's custom stream, or ``None`` outside a graph.

    Call it where the tool was invoked (the writer is found through the runnable config's
    context variable, which a bridged thread or the private loop does not see); the sink
    may then be called from anywhere.
    """
    try:
        writer = get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a runnable / not inside a LangGraph task
        return None

    def write(entry: AgentRunLogResponse) -> None:
        writer(log_event_data(entry, event=CODEGEN_LOG_EVENT, **fields))

    return write


def sync_emitter(
    run_manager: CallbackManagerForToolRun | None, fields: Mapping[str, Any] | None = None
) -> SyncLogSink:
    """A sink dispatching entries as custom events of the tool run (a no-op without one)
    and, inside a graph, writing them to its custom stream with ``fields``."""
    write = graph_writer(fields or {})

    def emit(entry: AgentRunLogResponse) -> None:
        if run_manager is not None:
            config = RunnableConfig(callbacks=run_manager.get_child())
            dispatch_custom_event(CODEGEN_LOG_EVENT, _event_data(entry), config=config)
        if write is not None:
            write(entry)

    return emit


def async_emitter(
    run_manager: AsyncCallbackManagerForToolRun | None, fields: Mapping[str, Any] | None = None
) -> AsyncLogSink:
    """The async twin of :func:`sync_emitter`."""
    write = graph_writer(fields or {})

    async def emit(entry: AgentRunLogResponse) -> None:
        if run_manager is not None:
            config = RunnableConfig(callbacks=run_manager.get_child())
            await adispatch_custom_event(CODEGEN_LOG_EVENT, _event_data(entry), config=config)
        if write is not None:
            write(entry)

    return emit


def skip_first(count: int, sink: Callable[[AgentRunLogResponse], T]) -> Callable[[Any], T | None]:
    """``sink`` for every entry after the first ``count`` (entries seen before a resume)."""
    seen = 0

    def forward(entry: AgentRunLogResponse) -> T | None:
        nonlocal seen
        seen += 1
        return sink(entry) if seen > count else None

    return forward


class _PrivateLoop:
    """One event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="codegen-graph-tools-loop", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def is_current_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread


_PRIVATE_LOOP = _PrivateLoop()


def on_private_loop(make: Callable[[SyncLogSink], Coroutine[Any, Any, T]], emit: SyncLogSink) -> T:
    """Run ``make(sink)`` on the private loop; entries given to ``sink`` reach ``emit`` here."""
    if _PRIVATE_LOOP.is_current_thread():
        raise RuntimeError("a Codegen tool's sync call cannot be made from its own private loop")
    entries: queue.SimpleQueue[object] = queue.SimpleQueue()

    async def main() -> T:
        try:
            return await make(entries.put)
        finally:
            entries.put(_DONE)

    future = asyncio.run_coroutine_threadsafe(main(), _PRIVATE_LOOP.get())
    try:
        while (item := entries.get()) is not _DONE:
            emit(item)  # type: ignore[arg-type]
    except BaseException:
        future.cancel()
        raise
    return future.result()


async def in_thread(call: Callable[[SyncLogSink], T], emit: AsyncLogSink) -> T:
    """Run ``call(sink)`` in a worker thread; entries given to ``sink`` reach ``emit`` here."""
    loop = asyncio.get_running_loop()
    entries: asyncio.Queue[object] = asyncio.Queue()

    def sink(entry: AgentRunLogResponse) -> None:
        loop.call_soon_threadsafe(entries.put_nowait, entry)

    async def pump() -> None:
        while (item := await entries.get()) is not _DONE:
            await emit(item)  # type: ignore[arg-type]

    pumping = asyncio.ensure_future(pump())
    try:
        # Entries are queued with call_soon_threadsafe before the thread's result is, so
        # by the time this await returns every entry is already in the queue.
        result = await asyncio.to_thread(call, sink)
    except Exception:
        entries.put_nowait(_DONE)
        await pumping  # deliver the progress seen before the error, then raise it
        raise
    except BaseException:
        pumping.cancel()
        raise
    entries.put_nowait(_DONE)
    await pumping
    return result
