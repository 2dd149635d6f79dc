"""Batches: many agent runs created under the create budget and awaited together.

``run_many`` creates runs at the pace the client's create budget allows (10 per minute by
default; the client's rate limiter spaces the creates, so none earns a 429), keeps at most
``concurrency`` runs in flight, waits for all of them through the client's one watcher, and
returns one :class:`BatchItem` per prompt in input order. A failure is reported on its item;
it never loses the others.

**A batch keeps going.** Every item has an idempotency key (``f"{key_prefix}-{i}"``, or a
key made for this batch), so trying its create again can never create a second run. A
transient failure (5xx, a dropped connection, a timeout, a 429, an open circuit) that the
client's own retries did not fix is therefore not reported: the item pauses (the client's
backoff, the server's ``Retry-After``, or until the circuit half-opens: the breaker is
back-pressure here, not a verdict) and tries again, looking its key up first, until the
batch's own deadline (``timeout``, default none). Waiting goes through the watcher, where a
failed poll costs a tick, never a run. What a retry cannot fix (a bad prompt, the plan's
run limit, a rejected token) is reported on its item at once.

The same policy serves every **keyed start** (``agent_runs.start(..., idempotency_key=K)``,
which graph nodes use): :func:`keep_trying` retries it through transient failures, looking
the key up before each new attempt, until the deadline of the batch it runs in (none
outside a batch). An unkeyed call (``create``, ``get``, ``resume``...) is an interactive
single call: the client's own retries, then the error (an open circuit fails it fast).

Keyed batches (``key_prefix=`` or an ``idempotency_key`` per prompt) are re-runnable without
duplicates however many runs the org has: before creating, one scan of the run list (newest
first, back to ``created_after``, default one day) finds every key that already has a run;
those items attach to it (``item.run.reused``), the others are created once per key.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._exceptions import CodegenError, RunTimeoutError
from ._retry import pause_for

if TYPE_CHECKING:
    from ._client import AsyncCodegenClient, CodegenClient
    from ._runs import AgentRun, AsyncAgentRun, HandleBase
    from .models import AgentRunResponse
    from .resources.agent_runs import TimeLike

__all__ = ["BatchItem", "BatchProgress"]

log = logging.getLogger("codegen_graph.batch")

H = TypeVar("H", bound="HandleBase")
T = TypeVar("T")

#: The clock time the enclosing batch gives up (``None``: no deadline, or no batch).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "codegen_graph_batch_deadline", default=None
)

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


def _normalise(prompts: Sequence[BatchPrompt], key_prefix: str | None) -> list[dict[str, Any]]:
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


def _auto_keys(specs: list[dict[str, Any]]) -> None:
    """Give every unkeyed item a key made for this batch, so retrying its create stays
    duplicate-free (after the batch's key scan, which these new keys need not join)."""
    prefix = f"batch-{uuid.uuid4().hex[:16]}"
    for i, spec in enumerate(specs):
        if _key_of(spec) is None:
            spec["idempotency_key"] = f"{prefix}-{i}"


def _key_of(spec: Mapping[str, Any]) -> str | None:
    # resources import this module at load time: import from them when called
    from .resources import IDEMPOTENCY_METADATA_KEY

    metadata = spec.get("metadata")
    key = spec.get("idempotency_key") or (
        metadata.get(IDEMPOTENCY_METADATA_KEY) if isinstance(metadata, Mapping) else None
    )
    return str(key) if key else None


def _items(specs: list[dict[str, Any]], started: float) -> list[BatchItem[Any]]:
    return [
        BatchItem[Any](i, spec["prompt"], key=_key_of(spec), started_at=started)
        for i, spec in enumerate(specs)
    ]


class _Persist:
    """One keyed start's retry loop: whether to try again after a failure, and when."""

    def __init__(self, client: CodegenClient | AsyncCodegenClient) -> None:
        self.client, self.deadline, self.failures = client, _DEADLINE.get(), 0
        self.rand = random.Random()

    def pause(self, exc: CodegenError) -> float:
        """Seconds to pause before the next attempt; re-raises ``exc`` when none may come."""
        if not exc.is_transient or isinstance(exc, RunTimeoutError):
            raise exc
        self.failures += 1
        now = self.client.clock.now()
        pause = pause_for(exc, self.failures, self.client.retry, now=now, rand=self.rand.random)
        if self.deadline is not None and now + pause >= self.deadline:
            raise exc
        log.info("keyed start failed (%s); trying again in %.1fs", exc, pause)
        return pause


def keep_trying(client: CodegenClient, attempt: Callable[[bool], T]) -> T:
    """Call ``attempt(retrying)`` until it returns, pausing after each transient failure.

    ``retrying`` is ``True`` from the second attempt on: the caller then looks its key up
    before creating, so an earlier attempt that took effect is found, not repeated.
    """
    persist = _Persist(client)
    while True:
        try:
            return attempt(persist.failures > 0)
        except CodegenError as exc:
            client.clock.sleep(persist.pause(exc))


async def akeep_trying(client: AsyncCodegenClient, attempt: Callable[[bool], Awaitable[T]]) -> T:
    """:func:`keep_trying` for the async client."""
    persist = _Persist(client)
    while True:
        try:
            return await attempt(persist.failures > 0)
        except CodegenError as exc:
            await client.clock.asleep(persist.pause(exc))


def _left(client: CodegenClient | AsyncCodegenClient, deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (``None``: no deadline)."""
    if deadline is None:
        return None
    return max(0.0, deadline - client.clock.now())


def _deadline(client: CodegenClient | AsyncCodegenClient, timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or timeout < 0 or timeout != timeout:
        raise ValueError("timeout must be a non-negative number of seconds, or None")
    return float(client.clock.now() + timeout)


def _check_concurrency(concurrency: int) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be a positive integer")


class _Tally:
    def __init__(self, total: int, on_progress: Callable[[BatchProgress], Any] | None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.on_progress = on_progress
        self.lock = threading.Lock()

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


def run_many_sync(
    client: CodegenClient,
    prompts: Sequence[BatchPrompt],
    *,
    concurrency: int = 10,
    timeout: float | None = None,
    on_progress: Callable[[BatchProgress], Any] | None = None,
    key_prefix: str | None = None,
    created_after: TimeLike | None = None,
    **create_kwargs: Any,
) -> list[BatchItem[AgentRun]]:
    _check_concurrency(concurrency)
    deadline = _deadline(client, timeout)
    specs = _normalise(prompts, key_prefix)
    items = _items(specs, client.clock.now())
    _auto_keys(specs)
    tally = _Tally(len(items), on_progress)
    found = _scan_sync(client, items, created_after)

    def one(item: BatchItem[AgentRun], spec: dict[str, Any]) -> None:
        _DEADLINE.set(deadline)  # this pool thread's keyed start keeps trying until then
        try:
            item.run = keep_trying(
                client,
                # a retry looks the key up again (the earlier attempt may have taken effect)
                lambda retrying: _start_sync(
                    client,
                    item,
                    {**create_kwargs, **spec},
                    None if retrying else found,
                    created_after,
                ),
            )
            item.run.wait(_left(client, deadline))
        except Exception as exc:  # reported on its item; never loses the others
            item.error = exc
        tally.finish(item)

    if items:
        with ThreadPoolExecutor(min(concurrency, len(items)), "codegen-graph-batch") as pool:
            for future in [pool.submit(one, it, sp) for it, sp in zip(items, specs, strict=True)]:
                future.result()
    return items


async def run_many_async(
    client: AsyncCodegenClient,
    prompts: Sequence[BatchPrompt],
    *,
    concurrency: int = 10,
    timeout: float | None = None,
    on_progress: Callable[[BatchProgress], Any] | None = None,
    key_prefix: str | None = None,
    created_after: TimeLike | None = None,
    **create_kwargs: Any,
) -> list[BatchItem[AsyncAgentRun]]:
    _check_concurrency(concurrency)
    deadline = _deadline(client, timeout)
    specs = _normalise(prompts, key_prefix)
    items = _items(specs, client.clock.now())
    _auto_keys(specs)
    tally = _Tally(len(items), on_progress)
    gate = asyncio.Semaphore(concurrency)
    found = await _scan_async(client, items, created_after)

    async def one(item: BatchItem[AsyncAgentRun], spec: dict[str, Any]) -> None:
        _DEADLINE.set(deadline)  # this task's keyed start keeps trying until then
        async with gate:
            try:
                item.run = await akeep_trying(
                    client,
                    # a retry looks the key up again (the earlier attempt may have taken effect)
                    lambda retrying: _start_async(
                        client,
                        item,
                        {**create_kwargs, **spec},
                        None if retrying else found,
                        created_after,
                    ),
                )
                await item.run.wait(_left(client, deadline))
            except Exception as exc:  # reported on its item; never loses the others
                item.error = exc
        tally.finish(item)

    await asyncio.gather(*(one(it, sp) for it, sp in zip(items, specs, strict=True)))
    return items


# -- keyed items: one scan for the batch, then one create per missing key -----------------


def _scan_sync(
    client: CodegenClient, items: list[BatchItem[Any]], created_after: TimeLike | None
) -> dict[str, AgentRunResponse] | None:
    keys = sorted({item.key for item in items if item.key})
    if not keys:
        return {}
    try:
        return client.agent_runs.find_by_idempotency_keys(keys, created_after=created_after)
    except Exception:  # each item then looks its own key up (and reports its own error)
        log.info("run_many: the batch key scan failed; each item looks its key up")
        return None


async def _scan_async(
    client: AsyncCodegenClient, items: list[BatchItem[Any]], created_after: TimeLike | None
) -> dict[str, AgentRunResponse] | None:
    keys = sorted({item.key for item in items if item.key})
    if not keys:
        return {}
    try:
        return await client.agent_runs.find_by_idempotency_keys(keys, created_after=created_after)
    except Exception:  # each item then looks its own key up (and reports its own error)
        log.info("run_many: the batch key scan failed; each item looks its key up")
        return None


def _start_sync(
    client: CodegenClient,
    item: BatchItem[Any],
    kwargs: dict[str, Any],
    found: dict[str, AgentRunResponse] | None,
    created_after: TimeLike | None,
) -> AgentRun:
    runs = client.agent_runs
    existing = found.get(item.key) if found is not None and item.key else None
    if existing is not None:
        existing._reused = True
        return runs.attach(existing)
    prompt = kwargs.pop("prompt")
    return runs.attach(runs._create_from(prompt, kwargs, created_after, found is None))


async def _start_async(
    client: AsyncCodegenClient,
    item: BatchItem[Any],
    kwargs: dict[str, Any],
    found: dict[str, AgentRunResponse] | None,
    created_after: TimeLike | None,
) -> AsyncAgentRun:
    runs = client.agent_runs
    existing = found.get(item.key) if found is not None and item.key else None
    if existing is not None:
        existing._reused = True
        return await runs.attach(existing)
    prompt = kwargs.pop("prompt")
    return await runs.attach(await runs._create_from(prompt, kwargs, created_after, found is None))
