"""What the process remembers about idempotency keys, shared by every client in it (no I/O).

* :class:`KeyMemo`: a bounded LRU; each client keeps one of the runs its keys created or
  were found with (one GET finds them again) and one of the follow-ups it sent.
* :data:`INTENTS`: the earliest lookup bound used for each key in the process. A key's
  lookup only ever *widens*: a retry, a re-run or a later call with a later
  ``created_after`` (from any client) still reads back to the earliest moment given.
* :class:`Persist`: how a keyed start keeps trying through transient failures, until the
  deadline of the batch it runs in (:data:`BATCH_DEADLINE`; none outside a batch).
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Hashable

from ._config import RetryConfig
from ._exceptions import CodegenError, RunTimeoutError
from ._retry import pause_for
from .clock import Clock

__all__ = ["BATCH_DEADLINE", "INTENTS", "KeyMemo", "Persist"]

log = logging.getLogger("codegen_graph.batch")

_SIZE = 4096


class KeyMemo:
    """A bounded LRU of ``ident -> value``; thread-safe."""

    def __init__(self, size: int = _SIZE) -> None:
        self._items: OrderedDict[Hashable, float] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, ident: Hashable) -> float | None:
        with self._lock:
            value = self._items.get(ident)
            if value is not None:
                self._items.move_to_end(ident)
            return value

    def put(self, ident: Hashable, value: float) -> None:
        with self._lock:
            self._store(ident, value)

    def first_time(self, ident: Hashable) -> bool:
        """Whether ``ident`` is new here (it is remembered from now on)."""
        with self._lock:
            new = ident not in self._items
            self._store(ident, self._items.get(ident, 0.0))
            return new

    def drop(self, ident: Hashable) -> None:
        with self._lock:
            self._items.pop(ident, None)

    def clear(self) -> None:
        """Forget everything (what a new process knows)."""
        with self._lock:
            self._items.clear()

    def widen(self, ident: Hashable, bound: float) -> float:
        """The earliest of ``bound`` and every bound given for ``ident`` before."""
        with self._lock:
            earliest = min(bound, self._items.get(ident, bound))
            self._store(ident, earliest)
            return earliest

    def _store(self, ident: Hashable, value: float) -> None:
        """Set ``ident`` as the newest entry, evicting the oldest past the size (locked)."""
        self._items[ident] = value
        self._items.move_to_end(ident)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


INTENTS = KeyMemo()

#: The clock time the enclosing batch gives up (``None``: no deadline, or no batch).
BATCH_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "codegen_graph_batch_deadline", default=None
)


class Persist:
    """One keyed start's retry loop: whether to try again after a failure, and when."""

    def __init__(self, clock: Clock, retry: RetryConfig) -> None:
        self.clock, self.retry, self.deadline = clock, retry, BATCH_DEADLINE.get()
        self.failures = 0
        self._random = random.Random()

    def pause(self, exc: CodegenError) -> float:
        """Seconds to pause before the next attempt; re-raises ``exc`` when none may come."""
        if not exc.is_transient or isinstance(exc, RunTimeoutError):
            raise exc
        self.failures += 1
        now = self.clock.now()
        pause = pause_for(exc, self.failures, self.retry, now=now, rand=self._random.random)
        if self.deadline is not None and now + pause >= self.deadline:
            raise exc
        log.info("keyed start failed (%s); trying again in %.1fs", exc, pause)
        return pause
