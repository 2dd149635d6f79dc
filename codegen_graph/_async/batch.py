"""Batches: many agent runs created under the create budget and awaited together.

``run_many`` creates runs at the pace the client's create budget allows (10 per minute by
default: the client's rate limiter spaces the creates, so none earns a 429), keeps at most
``concurrency`` runs in flight, waits for all of them through the client's one watcher, and
returns one :class:`BatchItem` per prompt in input order. A failure is reported on its
item; it never loses the others.

**A batch keeps going.** Every item has an idempotency key (``f"{key_prefix}-{i}"``, or a
key made for this batch), so trying its create again can never create a second run. A
transient failure (5xx, a dropped connection, a timeout, a 429, an open circuit) that the
client's own retries did not fix is not reported: the item pauses (the client's backoff,
the server's ``Retry-After``, or until the circuit half-opens) and tries again, looking its
key up first, until the batch's own deadline (``timeout``, default none). What a retry
cannot fix (a bad prompt, the plan's run limit, a rejected token) is reported on its item.

**Keyed batches** (``key_prefix=`` or an ``idempotency_key`` per prompt) are re-runnable
without duplicates however many runs the org has: one scan of the run list (newest first,
back to ``created_after``, default one day) finds every key that already has a run, and
those items attach to it (``item.run.reused``). Every other item then creates through the
same keyed path as ``create`` (the process-wide lock of its key, the org-wide claim when
processes coordinate, a lookup of the runs created since the batch's scan), so two
batches with the same keys, in one process or several, never create a key twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._checks import check_timeout
from .._concurrency import async_each
from .._handle import HandleBase
from .._keys import BATCH_DEADLINE
from .._specs import (
    KeyedCreate,
    TimeLike,
    check_create_args,
    key_of,
    lookup_bound,
)
from ..models import AgentRunResponse
from .keyed import mark_reused
from .runs import AsyncAgentRun, AsyncRunHost

__all__ = ["BatchItem", "BatchProgress", "BatchPrompt", "async_run_many"]

log = logging.getLogger("codegen_graph.batch")

H = TypeVar("H", bound=HandleBase)

#: One prompt: the text, or a mapping of ``agent_runs.create`` keyword arguments.
BatchPrompt = str | Mapping[str, Any]


@dataclass
class BatchItem(Generic[H]):
    """The outcome for one prompt of a batch."""

    index: int
    prompt: str
    run: H | None = None
    error: BaseException | None = None
    key: str | None = None
    """The item's idempotency key, if the batch is keyed."""
    started_at: float | None = None
    """When the batch began (client clock): the lookup bound of the item's key."""

    @property
    def ok(self) -> bool:
        """The run was created, finished, and succeeded."""
        return self.error is None and self.run is not None and self.run.is_success


@dataclass(frozen=True)
class BatchProgress:
    """Passed to ``on_progress`` each time an item finishes."""

    done: int
    failed: int
    total: int
    item: BatchItem[Any]


def _specs(prompts: Sequence[BatchPrompt], key_prefix: str | None) -> list[dict[str, Any]]:
    if isinstance(prompts, (str, bytes)):
        raise TypeError("run_many() takes a sequence of prompts, not one string")
    specs = []
    for i, spec in enumerate(prompts):
        kwargs = {"prompt": spec} if isinstance(spec, str) else dict(spec)
        if not isinstance(kwargs.get("prompt"), str):
            raise TypeError(f"prompt #{i} has no 'prompt' string")
        if key_prefix is not None:
            kwargs.setdefault("idempotency_key", f"{key_prefix}-{i}")
        specs.append(kwargs)
    return specs


class _Tally:
    def __init__(self, total: int, on_progress: Callable[[BatchProgress], Any] | None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.on_progress = on_progress
        self.lock = threading.Lock()  # the sync batch finishes items from several threads

    def finish(self, item: BatchItem[Any]) -> None:
        with self.lock:
            self.done += 1
            self.failed += 0 if item.ok else 1
            progress = BatchProgress(self.done, self.failed, self.total, item)
        if self.on_progress is not None:
            try:
                self.on_progress(progress)
            except Exception:  # a broken progress callback must not cost a run
                log.exception("run_many: on_progress raised; the batch goes on")


async def async_run_many(
    client: AsyncRunHost,
    prompts: Sequence[BatchPrompt],
    *,
    concurrency: int = 10,
    timeout: float | None = None,
    on_progress: Callable[[BatchProgress], Any] | None = None,
    key_prefix: str | None = None,
    created_after: TimeLike | None = None,
    **create_kwargs: Any,
) -> list[BatchItem[AsyncAgentRun]]:
    """Create many runs under the create budget and wait for all (see the module)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be a positive integer")
    timeout = check_timeout(timeout)
    check_create_args(create_kwargs)
    clock = client.clock
    started = clock.now()
    deadline = None if timeout is None else started + timeout
    specs = _specs(prompts, key_prefix)
    items = [
        BatchItem[AsyncAgentRun](i, spec["prompt"], key=key_of(spec), started_at=started)
        for i, spec in enumerate(specs)
    ]
    auto = f"batch-{uuid.uuid4().hex[:16]}"  # unkeyed items: a key made for this batch
    for item, spec in zip(items, specs, strict=True):
        spec.setdefault("idempotency_key", item.key or f"{auto}-{item.index}")
    found = await _scan(client, items, created_after)
    tally = _Tally(len(items), on_progress)

    async def one(index: int) -> None:
        item, kwargs = items[index], {**create_kwargs, **specs[index]}
        BATCH_DEADLINE.set(deadline)  # this item's keyed start keeps trying until then
        try:
            existing = found.get(item.key) if item.key else None
            if existing is not None:
                item.run = AsyncAgentRun(client, mark_reused(existing))
            else:
                prompt = kwargs.pop("prompt")

                async def attempt(retrying: bool) -> AgentRunResponse:
                    call = KeyedCreate(client.org_id, prompt, now=clock.now(), **kwargs)
                    if item.key is None:  # our own key: born with this batch
                        if not retrying:  # a key just made cannot have a run yet
                            return await client.request(call.spec)
                        return await client.keyed.create(call, scanned_at=started, own=True)
                    scanned = started if item.key in found.scanned else None
                    return await client.keyed.create(
                        call, created_after=created_after, scanned_at=scanned
                    )

                item.run = AsyncAgentRun(client, await client.keyed.persist(attempt))
            left = None if deadline is None else max(0.0, deadline - clock.now())
            await item.run.wait(left)
        except Exception as exc:  # reported on its item; never loses the others
            item.error = exc
        tally.finish(item)

    await async_each(one, range(len(items)), concurrency)
    return items


class _Found(dict[str, AgentRunResponse]):
    """The runs a batch's scan found, and which keys that scan covered."""

    scanned: frozenset[str] = frozenset()


async def _scan(
    client: AsyncRunHost, items: list[BatchItem[Any]], created_after: TimeLike | None
) -> _Found:
    """One scan for every user-given key of the batch (a failed scan: each item's own
    keyed create looks its key up in full)."""
    keys = {item.key for item in items if item.key}
    found = _Found()
    if not keys:
        return found
    try:
        bound = lookup_bound(created_after, client.clock.now())
        found.update(await client.keyed.find(keys, bound))
        found.scanned = frozenset(keys)
    except Exception:
        log.info("run_many: the batch key scan failed; each item looks its key up")
    return found
