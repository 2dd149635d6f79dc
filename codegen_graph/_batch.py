"""Batches: many agent runs created under the create budget and awaited together.

``run_many`` creates runs at the pace the client's create budget allows (10 per minute by
default; the client's rate limiter spaces the creates, so none earns a 429), keeps at most
``concurrency`` runs in flight, waits for all of them through the client's one watcher, and
returns one :class:`BatchItem` per prompt in input order. A failure is reported on its item;
it never loses the others.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ._client import AsyncCodegenClient, CodegenClient
    from ._runs import AgentRun, AsyncAgentRun, HandleBase

__all__ = ["BatchItem", "BatchProgress"]

log = logging.getLogger("codegen_graph.batch")

H = TypeVar("H", bound="HandleBase")

#: One prompt: the text, or a mapping of ``agent_runs.create`` keyword arguments.
BatchPrompt = str | Mapping[str, Any]


@dataclass
class BatchItem(Generic[H]):
    """The outcome for one prompt of a batch."""

    index: int
    prompt: str
    run: H | None = None
    error: BaseException | None = None

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
    **create_kwargs: Any,
) -> list[BatchItem[AgentRun]]:
    _check_concurrency(concurrency)
    specs = _normalise(prompts, key_prefix)
    items = [BatchItem[Any](i, spec["prompt"]) for i, spec in enumerate(specs)]
    tally = _Tally(len(items), on_progress)

    def one(item: BatchItem[AgentRun], spec: dict[str, Any]) -> None:
        try:
            item.run = client.agent_runs.start(
                **{**create_kwargs, **spec}, reuse_existing=key_prefix is not None
            )
            item.run.wait(timeout)
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
    **create_kwargs: Any,
) -> list[BatchItem[AsyncAgentRun]]:
    _check_concurrency(concurrency)
    specs = _normalise(prompts, key_prefix)
    items = [BatchItem[Any](i, spec["prompt"]) for i, spec in enumerate(specs)]
    tally = _Tally(len(items), on_progress)
    gate = asyncio.Semaphore(concurrency)

    async def one(item: BatchItem[AsyncAgentRun], spec: dict[str, Any]) -> None:
        async with gate:
            try:
                item.run = await client.agent_runs.start(
                    **{**create_kwargs, **spec}, reuse_existing=key_prefix is not None
                )
                await item.run.wait(timeout)
            except Exception as exc:  # reported on its item; never loses the others
                item.error = exc
        tally.finish(item)

    await asyncio.gather(*(one(it, sp) for it, sp in zip(items, specs, strict=True)))
    return items
