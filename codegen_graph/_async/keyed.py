"""Keyed creates and follow-ups: the one path every caller takes to create at most once.

``create``, ``start``, ``run_many``, the tools, the graph nodes, the fix step and the CLI
all create a keyed run through :meth:`AsyncKeyedCreates.create`, which, for one key:

1. holds the process-wide lock of the key (threads, and tasks on any event loop);
2. holds the org-wide claim on the key when processes coordinate (Redis): a run another
   process recorded for the key is returned. A Redis that does not answer is waited for
   up to :data:`STORE_WAIT`; after that, and when Redis lost its data (a restart without
   persistence), the lookup below decides (it reads the runs created since the key's
   intent, so only runs created at the same instant by two processes can escape it);
3. looks for the key's run: the run this client created or found before (one GET), else
   the org's runs newest first back to the key's intent (the earliest bound any call of
   the process gave for the key: it only widens). A batch that scanned for its keys
   already passes ``scanned_at``: only the runs created since then are read again;
4. confirms the claim (renews it, if still its own): one lost while looking (it expired
   while Redis did not answer) may have let another process create meanwhile, so the
   create starts again at 2;
5. creates the run, and remembers it for the client (and the org).

A keyed follow-up (:meth:`AsyncKeyedCreates.resume`) is recognised by its own marker in
the run's log, never by anything else that happens to the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from .._base_client import RequestSpec
from .._concurrency import AsyncKeyLock, async_offload, async_shield
from .._exceptions import CodegenError, NotFoundError
from .._keys import INTENTS, KeyMemo, Persist
from .._shared import KeyClaim
from .._specs import (
    CLOCK_SKEW,
    KeyedCreate,
    LogScanStep,
    ScanStep,
    TimeLike,
    get_run,
    has_key,
    lookup_bound,
    resume,
    scan,
)
from ..models import AgentRunResponse
from .requester import AsyncRequester

__all__ = ["AsyncKeyedCreates", "mark_reused"]

T = TypeVar("T")
S = TypeVar("S", ScanStep, LogScanStep)  # a paged scan's step

#: Clock seconds between two tries of a key claim another process holds.
CLAIM_POLL = 0.25
#: Clock seconds a keyed create waits for a shared store that does not answer (a Redis
#: failover, a pause) before it goes on with the lookup alone.
STORE_WAIT = 60.0


def mark_reused(run: AgentRunResponse) -> AgentRunResponse:
    """``run``, marked as found for its key rather than created (``reused``)."""
    run._reused = True
    return run


class AsyncKeyedCreates:
    """Creates and follow-ups of one client, at most once per key (see the module)."""

    def __init__(self, api: AsyncRequester) -> None:
        self._api = api
        self._created = KeyMemo()  # key -> the run it created or was found with
        self._resumed = KeyMemo()  # (run, key) of the follow-ups sent

    def _ident(self, *parts: object) -> tuple[object, ...]:
        return (self._api.base_url, self._api.org_id, *parts)

    async def create(
        self,
        call: KeyedCreate,
        *,
        created_after: TimeLike | None = None,
        scanned_at: float | None = None,
        own: bool = False,
    ) -> AgentRunResponse:
        """Create ``call``'s run unless its key already has one (then that one, ``reused``).

        ``own``: the key was made by this process (a batch's item without one): no other
        process can know it, so no claim; ``scanned_at`` still bounds its lookup.
        """
        api = self._api
        if not call.keyed:  # a fresh uuid4 key cannot have a run yet
            return await api.request(call.spec)
        ident = self._ident(call.key)
        bound = INTENTS.widen(ident, lookup_bound(created_after, api.clock.now()))
        if scanned_at is not None:  # the older runs were read by the batch's scan
            bound = max(bound, scanned_at - CLOCK_SKEW)
        async with AsyncKeyLock(ident):
            share = None if own else api.coordination
            while True:  # again only when the claim was lost while looking (see _confirm)
                claim = share.claim(call.key) if share is not None else None
                try:
                    if claim is not None:
                        await self._take(claim)
                        if claim.existing is not None:
                            self._created.put(ident, claim.existing)
                            existing = get_run(api.org_id, claim.existing)
                            return mark_reused(await api.request(existing))
                    found = await self._existing(call.key, ident, bound)
                    if found is not None:
                        if claim is not None:
                            await async_offload(claim.record, found.id)
                        return mark_reused(found)
                    if claim is not None and not await self._confirm(claim):
                        continue
                    run = await api.request(call.spec)
                    self._created.put(ident, run.id)
                    if claim is not None:
                        await async_offload(claim.record, run.id)
                    return run
                finally:
                    if claim is not None:  # released even by a cancelled task
                        await async_shield(partial(async_offload, claim.release))

    async def _take(self, claim: KeyClaim) -> None:
        """Hold ``claim``: wait while another process holds it, and wait up to
        :data:`STORE_WAIT` (from the moment it is seen down) for a store that does not
        answer; then go on without it (the lookup decides)."""
        clock, give_up = self._api.clock, None
        while True:
            if await async_offload(claim.step) and not claim.down:
                return
            if claim.down:
                give_up = clock.now() + STORE_WAIT if give_up is None else give_up
                if clock.now() >= give_up:
                    return
            await clock.asleep(CLAIM_POLL)

    async def _confirm(self, claim: KeyClaim) -> bool:
        """Whether the create may go on under ``claim``: ``False`` if the claim was lost
        while the key was looked up (it expired while the store did not answer: another
        process may have created the run since, so take the claim and look again). A store
        that does not answer is waited for up to :data:`STORE_WAIT`, as in :meth:`_take`."""
        clock = self._api.clock
        give_up = clock.now() + STORE_WAIT
        while (held := await async_offload(claim.confirm)) is None:
            if clock.now() >= give_up:
                return True
            await clock.asleep(CLAIM_POLL)
        return held

    async def _existing(
        self, key: str, ident: tuple[object, ...], bound: float
    ) -> AgentRunResponse | None:
        """The run ``key`` has: the one remembered (one GET), else one found by scanning."""
        api = self._api
        remembered = self._created.get(ident)
        if remembered is not None:
            try:
                run: AgentRunResponse | None = await api.request(
                    get_run(api.org_id, int(remembered))
                )
            except NotFoundError:
                run = None
            if run is not None and has_key(run, key):
                return run
            self._created.drop(ident)
        found = (await self.find({key}, bound)).get(key)
        if found is not None:
            self._created.put(ident, found.id)
        return found

    async def find(self, keys: set[str], bound: float) -> dict[str, AgentRunResponse]:
        """The runs created with any of ``keys`` since ``bound`` (epoch seconds, skew
        included): one scan of the run list for all of them."""
        api = self._api
        step = await self._last(scan(api.org_id, frozenset(keys), bound))
        if step is None:
            return {}
        found = {k: api.hooks.filtered(run) for k, run in step.found.items()}
        for key, run_id in step.unreadable.items():  # our run, unreadable in the list
            found[key] = await api.request(get_run(api.org_id, run_id))
        for key, run in found.items():
            self._created.put(self._ident(key), run.id)
        return found

    async def _last(self, spec: RequestSpec[S] | None) -> S | None:
        """The last step of a paged scan (each step names the next request, or ``None``)."""
        step: S | None = None
        while spec is not None:
            step = await self._api.request(spec)
            spec = step.next
        return step

    async def resume(
        self, run_id: int, prompt: str, images: Sequence[str] | None, key: str | None
    ) -> AgentRunResponse:
        """Send a follow-up, at most once per ``key``: a follow-up whose marker is in the
        run's log already (read newest first) is not sent again (``reused``)."""
        api = self._api
        spec = resume(api.org_id, run_id, prompt, images, key)
        if key is None:
            return await api.request(spec)
        ident = self._ident("resume", run_id, key)
        async with AsyncKeyLock(ident):
            if self._resumed.get(ident) is None:
                assert spec.recovery is not None  # a keyed resume: its marker's log scan
                lookup: RequestSpec[LogScanStep] = spec.recovery.lookup
                step = await self._last(lookup)
                if step is None or step.found is None:
                    run = await api.request(spec)
                    self._resumed.put(ident, run_id)
                    return run
                self._resumed.put(ident, run_id)
            return mark_reused(await api.request(get_run(api.org_id, run_id)))

    async def persist(self, attempt: Callable[[bool], Awaitable[T]]) -> T:
        """``await attempt(retrying)`` until it returns, pausing after each transient
        failure until the enclosing batch's deadline (a keyed start: the next attempt finds
        what an earlier one created)."""
        persist = Persist(self._api.clock, self._api.retry)
        while True:
            try:
                return await attempt(persist.failures > 0)
            except CodegenError as exc:
                await self._api.clock.asleep(persist.pause(exc))
