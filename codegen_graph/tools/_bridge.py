"""Progress events, and running a tool's work from the other world.

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

* sync call, async client only: the coroutine runs on one anyio blocking portal (an event
  loop in a daemon thread, started on first use, restarted if its loop died, stopped at
  interpreter exit), shared by every Codegen tool of the process, so the client's
  connections and watcher stay on one loop; log entries travel back through a queue and
  are dispatched on the calling thread, in order. An exception there (an interrupt, a
  failing callback) cancels the coroutine.
* async call, sync client only: the sync work runs in an anyio worker thread; each log entry
  is handed back to the event loop (``anyio.from_thread.run``) and dispatched there before
  the work goes on, so in order (a failing callback raises in the work, which ends).
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from anyio import from_thread, to_thread
from anyio.from_thread import BlockingPortal, start_blocking_portal
from langgraph.config import get_stream_writer

from ..models import AgentRunLogResponse

__all__ = [
    "CODEGEN_LOG_EVENT",
    "AsyncLogSink",
    "SyncLogSink",
    "graph_writer",
    "in_thread",
    "log_event_data",
    "on_portal",
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


def graph_writer(fields: Mapping[str, Any]) -> SyncLogSink | None:
    """A sink writing entries to LangGraph's custom stream, or ``None`` outside a graph.

    Call it where the tool was invoked (the writer is found through the runnable config's
    context variable); the sink may then be called from anywhere.
    """
    try:
        writer = get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a runnable / not inside a LangGraph task
        return None

    def write(entry: AgentRunLogResponse) -> None:
        writer(log_event_data(entry, event=CODEGEN_LOG_EVENT, **fields))

    return write


class _Portal:
    """The tools' one blocking portal (a lock, and the portal with its loop's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._running: tuple[BlockingPortal, threading.Thread] | None = None

    def get(self) -> BlockingPortal:
        with self._lock:
            if self._running is None or not self._running[1].is_alive():
                self._stack.close()  # a loop that died (of a BaseException) is let go
                started = start_blocking_portal(name="codegen-graph-tools")
                portal = self._stack.enter_context(started)
                self._running = portal, portal.call(threading.current_thread)
            return self._running[0]

    def stop(self) -> None:
        """Cancel the calls still running, stop the loop and join its thread."""
        with self._lock:
            if self._running is not None and self._running[1].is_alive():
                self._running[0].call(self._running[0].stop, True)
            self._stack.close()
            self._running = None


_PORTAL = _Portal()
atexit.register(_PORTAL.stop)


def on_portal(make: Callable[[SyncLogSink], Awaitable[T]], emit: SyncLogSink) -> T:
    """Run ``make(sink)`` on the tools' portal; entries given to ``sink`` reach ``emit`` here."""
    entries: queue.SimpleQueue[object] = queue.SimpleQueue()

    async def main() -> T:
        try:
            return await make(entries.put)
        finally:
            entries.put(_DONE)

    future = _PORTAL.get().start_task_soon(main)
    try:
        while (item := entries.get()) is not _DONE:
            emit(item)  # type: ignore[arg-type]
    except BaseException:
        future.cancel()
        raise
    return future.result()


async def in_thread(call: Callable[[SyncLogSink], T], emit: AsyncLogSink) -> T:
    """Run ``call(sink)`` in a worker thread; each entry given to ``sink`` reaches ``emit``
    here before the thread goes on. A cancelled caller stops waiting at once (the thread
    runs on) and hears of no later entry."""
    listening = True

    async def deliver(entry: AgentRunLogResponse) -> None:
        await emit(entry)

    def sink(entry: AgentRunLogResponse) -> None:
        if listening:
            from_thread.run(deliver, entry)

    try:
        return await to_thread.run_sync(call, sink, abandon_on_cancel=True)
    finally:
        listening = False
