"""Twin primitives: the few places where the sync and async worlds truly differ.

The behaviour of the client is written once, as async code under ``_async/``;
``tools/unasync.py`` derives the sync modules by text substitution (``AsyncEvent`` ->
``Event``, ``async_offload`` -> ``offload``...). Each pair below does the same job in its
world, so the generated code needs no ``if``:

* :class:`AsyncEvent` / :class:`Event`: a flag a waiter blocks on; ``set()`` may be
  called from any thread (the watcher wakes waiters from its thread or task).
* :class:`AsyncBackground` / :class:`Background`: one background loop (a task on the
  caller's event loop / a daemon thread), started on demand, that stops when not needed.
* :class:`AsyncKeyLock` / :class:`KeyLock`: one holder per key in the whole process, for
  threads and for tasks on any event loop (single-flight keyed creates).
* :func:`async_offload` / :func:`offload`: blocking I/O (Redis) off the event loop.
* :func:`async_each` / :func:`each`: run a function over items, ``limit`` at a time.
* :func:`async_resolve` / :func:`resolve`: await a callback's result if it is awaitable.
* :func:`async_call_provider` / :func:`call_provider`: call a (sync or async) provider.
* :func:`async_drain` / :func:`drain`: run a stepped computation (a generator that yields
  between slices of work); the async one lets the event loop run at each step.
* :func:`async_shield` / :func:`shield`: finish a clean-up even while being cancelled
  (:data:`Cancelled` is what a cancelled task raises; nothing raises it in sync code).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from ._exceptions import ConfigurationError

__all__ = [
    "AsyncBackground",
    "AsyncEvent",
    "AsyncKeyLock",
    "Background",
    "Cancelled",
    "Event",
    "KeyLock",
    "async_call_provider",
    "async_drain",
    "async_each",
    "async_offload",
    "async_resolve",
    "async_shield",
    "call_provider",
    "drain",
    "each",
    "offload",
    "resolve",
    "shield",
]

T = TypeVar("T")

#: What a cancelled task raises (an Agent Server cancelling a run, a TimeoutPolicy...).
Cancelled = asyncio.CancelledError

# -- events -------------------------------------------------------------------------------


class Event:
    """A flag threads wait on (``threading.Event``)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self) -> None:
        self._event.wait()


class AsyncEvent:
    """A flag a task waits on, set from any thread (made on the waiter's event loop)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


# -- one background loop --------------------------------------------------------------------


class Background:
    """At most one daemon thread running a loop; :meth:`ensure` starts it when it is not
    running, and the loop ends itself with :meth:`stop_unless` (both under one lock, so a
    waiter that arrives while the loop decides to stop is never left without one)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure(self, loop: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=loop, name=self._name, daemon=True)
                self._thread.start()

    def stop_unless(self, needed: Callable[[], bool]) -> bool:
        """Called by the loop: ``True`` (and the loop must return) when not ``needed()``."""
        with self._lock:
            if needed():
                return False
            if self._thread is threading.current_thread():
                self._thread = None
            return True


class AsyncBackground:
    """At most one task per event loop running a loop (see :class:`Background`)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    def ensure(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        running = asyncio.get_running_loop()
        with self._lock:
            task = self._task
            if task is None or task.done() or task.get_loop() is not running:
                self._task = running.create_task(loop(), name=self._name)

    def stop_unless(self, needed: Callable[[], bool]) -> bool:
        with self._lock:
            if needed():
                return False
            if self._task is asyncio.current_task():
                self._task = None
            return True


# -- process-wide key locks -------------------------------------------------------------------


class _Slot:
    __slots__ = ("lock", "loops", "refs")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.refs = 0


_SLOTS: dict[Any, _Slot] = {}
_SLOTS_GUARD = threading.Lock()


def _take_slot(key: Any) -> _Slot:
    with _SLOTS_GUARD:
        slot = _SLOTS.setdefault(key, _Slot())
        slot.refs += 1
        return slot


def _drop_slot(key: Any, slot: _Slot) -> None:
    with _SLOTS_GUARD:
        slot.refs -= 1
        if slot.refs == 0:
            _SLOTS.pop(key, None)


class KeyLock:
    """``with KeyLock(key):`` one holder of ``key`` at a time in the process."""

    def __init__(self, key: Any) -> None:
        self._key = key
        self._slot: _Slot | None = None

    def __enter__(self) -> None:
        slot = _take_slot(self._key)
        slot.lock.acquire()
        self._slot = slot

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        slot, self._slot = self._slot, None
        if slot is not None:
            slot.lock.release()
            _drop_slot(self._key, slot)


#: Real seconds between two tries of a key lock held on another event loop or thread.
_CROSS_LOOP_POLL = 0.005


class AsyncKeyLock:
    """``async with AsyncKeyLock(key):`` one holder of ``key`` at a time in the process.

    Tasks of one event loop queue on an ``asyncio.Lock``; the one at the head then takes
    the process-wide lock, polling briefly while a thread or another loop holds it.
    """

    def __init__(self, key: Any) -> None:
        self._key = key
        self._slot: _Slot | None = None
        self._local: asyncio.Lock | None = None

    async def __aenter__(self) -> None:
        slot = _take_slot(self._key)
        try:
            with _SLOTS_GUARD:
                local = slot.loops.setdefault(asyncio.get_running_loop(), asyncio.Lock())
            await local.acquire()
            try:
                while not slot.lock.acquire(blocking=False):  # noqa: ASYNC110 (a thread's lock)
                    await asyncio.sleep(_CROSS_LOOP_POLL)
            except BaseException:
                local.release()
                raise
        except BaseException:
            _drop_slot(self._key, slot)
            raise
        self._slot, self._local = slot, local

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        slot, local = self._slot, self._local
        self._slot = self._local = None
        if slot is not None and local is not None:
            slot.lock.release()
            local.release()
            _drop_slot(self._key, slot)


# -- small helpers ----------------------------------------------------------------------------


def offload(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn`` (sync code may block)."""
    return fn(*args)


async def async_offload(fn: Callable[..., T], *args: Any) -> T:
    """Call blocking ``fn`` in a thread, so the event loop goes on."""
    return await asyncio.to_thread(fn, *args)


def resolve(value: T) -> T:
    """``value`` itself (a sync callback's result)."""
    return value


async def async_resolve(value: Any) -> Any:
    """``value``, awaited when a callback returned an awaitable."""
    return await value if inspect.isawaitable(value) else value


def _provider_failed(exc: Exception) -> ConfigurationError:
    return ConfigurationError(
        f"The token provider raised {type(exc).__name__}; check the callable passed as token=..."
    )


def call_provider(fn: Callable[[], Any]) -> Any:
    """``fn()``; an async provider's coroutine runs to its end on a loop of its own (not
    inside a running event loop). A failure is a :class:`ConfigurationError` naming only
    its type, the exception left out of the chain (it may carry anything: the token)."""
    try:
        value = fn()
        if not inspect.isawaitable(value):
            return value
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(async_resolve(value))
    except Exception as exc:
        failed = _provider_failed(exc)
    else:
        if inspect.iscoroutine(value):
            value.close()
        failed = ConfigurationError(
            "An async token provider cannot serve a sync CodegenClient inside a running "
            "event loop (Jupyter, an async app): use AsyncCodegenClient there, or a sync "
            "provider."
        )
    raise failed


async def async_call_provider(fn: Callable[[], Any]) -> Any:
    """``fn()``: a coroutine function is awaited, a sync one runs in a thread (it may
    block: a vault, a file); an awaitable it returns is awaited. Failures as in
    :func:`call_provider`."""
    try:
        if inspect.iscoroutinefunction(fn):
            return await fn()
        return await async_resolve(await asyncio.to_thread(fn))
    except Exception as exc:
        failed = _provider_failed(exc)
    raise failed


def each(fn: Callable[[T], None], items: Iterable[T], limit: int) -> None:
    """``fn(item)`` for every item, ``limit`` threads at a time (each in a copy of the
    caller's context); waits for all."""
    todo = list(items)
    if not todo:
        return
    with ThreadPoolExecutor(min(limit, len(todo)), "codegen-graph-each") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in todo]
        for future in futures:
            future.result()


async def async_each(fn: Callable[[T], Awaitable[None]], items: Iterable[T], limit: int) -> None:
    """``await fn(item)`` for every item, ``limit`` tasks at a time; waits for all."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> None:
        async with gate:
            await fn(item)

    await asyncio.gather(*(one(item) for item in items))


def drain(steps: Generator[None, None, T]) -> T:
    """Run a stepped computation to its end."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def async_drain(steps: Generator[None, None, T]) -> T:
    """Run a stepped computation, letting the event loop run between its steps."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        await asyncio.sleep(0)


def shield(fn: Callable[[], T]) -> T:
    """``fn()``."""
    return fn()


async def async_shield(fn: Callable[[], Awaitable[T]]) -> T:
    """``await fn()`` to its end, even if the task awaiting it is cancelled meanwhile."""
    return await asyncio.shield(fn())
