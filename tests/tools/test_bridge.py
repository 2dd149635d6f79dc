"""The bridges. A sync call holding only an async client runs its coroutine on one event
loop (anyio's blocking portal) for the whole process, its progress comes back in order on
the calling thread, and an exception there cancels the coroutine. An async call holding
only a sync client runs it in a worker thread, and a cancelled caller stops at once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import pytest

from codegen_graph.tools._bridge import _Portal, in_thread, on_portal


async def _where(sink: Any) -> tuple[asyncio.AbstractEventLoop, str]:
    return asyncio.get_running_loop(), threading.current_thread().name


def test_every_sync_call_runs_on_one_loop_in_one_thread() -> None:
    """So an async client's connections and watcher stay on one loop, whichever tool and
    thread makes the call."""
    with ThreadPoolExecutor(4) as pool:
        seen = set(pool.map(lambda _: on_portal(_where, print), range(8)))
    assert len(seen) == 1
    assert next(iter(seen))[1] == "codegen-graph-tools"


def test_progress_comes_back_in_order_on_the_calling_thread() -> None:
    got: list[tuple[int, str]] = []

    async def work(sink: Any) -> str:
        for i in range(50):
            sink(i)
            if i % 7 == 0:
                await asyncio.sleep(0)
        return "done"

    def emit(item: Any) -> None:
        got.append((item, threading.current_thread().name))

    assert on_portal(work, emit) == "done"
    assert got == [(i, threading.current_thread().name) for i in range(50)]


def test_an_exception_on_the_calling_thread_cancels_the_coroutine() -> None:
    cancelled = threading.Event()

    async def work(sink: Any) -> None:
        sink("first entry")
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def interrupt(item: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        on_portal(work, interrupt)
    assert cancelled.wait(timeout=30)


def test_stop_cancels_what_runs_and_joins_the_thread_and_get_starts_again() -> None:
    portal = _Portal()
    loop_thread = portal.get().call(threading.current_thread)
    future = portal.get().start_task_soon(asyncio.Event().wait)
    portal.stop()
    assert not loop_thread.is_alive()
    with pytest.raises(CancelledError):
        future.result(timeout=30)
    assert portal.get().call(threading.current_thread) is not loop_thread
    portal.stop()


async def test_a_cancelled_async_caller_stops_waiting_and_hears_no_later_entry() -> None:
    first, release, second_sent = asyncio.Event(), threading.Event(), threading.Event()
    got: list[int] = []

    def work(sink: Any) -> str:
        sink(1)
        release.wait(30)
        sink(2)
        second_sent.set()
        return "done"

    async def emit(item: Any) -> None:
        got.append(item)
        first.set()

    task = asyncio.ensure_future(in_thread(work, emit))
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert await asyncio.to_thread(second_sent.wait, 30)
    assert got == [1]


def test_a_loop_that_died_is_replaced() -> None:
    portal = _Portal()
    dying = portal.get()
    loop_thread = dying.call(threading.current_thread)

    async def die() -> None:
        raise SystemExit  # a BaseException: it ends the portal's loop

    with pytest.raises(SystemExit):
        dying.start_task_soon(die).result(timeout=30)
    loop_thread.join(timeout=30)
    assert not loop_thread.is_alive()
    assert portal.get().call(threading.current_thread) is not loop_thread
    portal.stop()
