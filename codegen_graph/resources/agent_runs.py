"""``client.agent_runs``: create, read, list, resume and moderate agent runs.

Each endpoint is described once by a ``_spec_*`` function; :class:`AgentRuns` and
:class:`AsyncAgentRuns` only execute those descriptions.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from .._base_client import RequestSpec
from .._batch import (
    BatchItem,
    BatchProgress,
    BatchPrompt,
    akeep_trying,
    keep_trying,
    run_many_async,
    run_many_sync,
)
from .._exceptions import ConfigurationError, NotFoundError
from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec
from .._runs import AgentRun, AsyncAgentRun
from ..models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    AgentType,
    Page,
    SourceType,
    StopAgentRunInput,
)
from ._keyed import (
    DEFAULT_KEY_LOOKBACK,
    IDEMPOTENCY_METADATA_KEY,
    KeyedCreate,
    KeyMemo,
    LogScanStep,
    ScanStep,
    TimeLike,
    aflight,
    create_call,
    flight,
    has_key,
    log_scan_spec,
    lookup_bound,
    resume_marker,
    resume_spec,
    scan_spec,
)
from ._resource import (
    AsyncAPIResource,
    SyncAPIResource,
    build_input,
    check_id,
    check_limit,
    check_skip,
    check_text,
    next_skip,
)

__all__ = [
    "DEFAULT_KEY_LOOKBACK",
    "IDEMPOTENCY_METADATA_KEY",
    "AgentRuns",
    "AsyncAgentRuns",
    "TimeLike",
]


def _base(org: int) -> str:
    return f"/v1/organizations/{org}/agent"


def _spec_list(
    org: int, skip: int, limit: int, user_id: int | None, source_type: SourceType | str | None
) -> RequestSpec[Page[AgentRunResponse]]:
    check_skip(skip)
    check_limit(limit)
    if user_id is not None:
        check_id("user_id", user_id)
    source = source_type.value if isinstance(source_type, SourceType) else source_type
    return RequestSpec(
        "GET",
        f"{_base(org)}/runs",
        parse=Page[AgentRunResponse].model_validate,
        params={"skip": skip, "limit": limit, "user_id": user_id, "source_type": source},
    )


def _check_reuse(reuse_existing: bool, create_kwargs: Mapping[str, Any]) -> None:
    metadata = create_kwargs.get("metadata")
    keyed = create_kwargs.get("idempotency_key") or (
        metadata.get(IDEMPOTENCY_METADATA_KEY) if isinstance(metadata, Mapping) else None
    )
    if not reuse_existing and keyed:
        raise ConfigurationError(
            "reuse_existing=False is no longer supported: a create with an idempotency_key "
            "always returns the run the key already has; use a new key for a new run"
        )


def _reused(run: AgentRunResponse) -> AgentRunResponse:
    run._reused = True
    return run


def _spec_get(org: int, agent_run_id: int) -> RequestSpec[AgentRunResponse]:
    check_id("agent_run_id", agent_run_id)
    return RequestSpec(
        "GET", f"{_base(org)}/run/{agent_run_id}", parse=AgentRunResponse.model_validate
    )


def _spec_logs(
    org: int, agent_run_id: int, skip: int, limit: int, reverse: bool
) -> RequestSpec[AgentRunWithLogsResponse]:
    check_id("agent_run_id", agent_run_id)
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        f"/v1/alpha/organizations/{org}/agent/run/{agent_run_id}/logs",
        parse=AgentRunWithLogsResponse.model_validate,
        params={"skip": skip, "limit": limit, "reverse": "true" if reverse else "false"},
    )


def _spec_stop(org: int, action: str, agent_run_id: int) -> RequestSpec[None]:
    check_id("agent_run_id", agent_run_id)
    body = build_input(StopAgentRunInput, agent_run_id=agent_run_id)
    return RequestSpec(
        "POST",
        f"{_base(org)}/run/{action}",
        parse=lambda _data: None,
        json=body.model_dump(mode="json", exclude_none=True),
    )


class AgentRuns(SyncAPIResource):
    """Agent runs of the client's organisation (``client.agent_runs``)."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._memo = KeyMemo()
        self._resumed = KeyMemo()

    def create(
        self,
        prompt: str,
        *,
        images: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        repo_id: int | None = None,
        model: str | None = None,
        agent_type: AgentType | None = None,
        idempotency_key: str | None = None,
        created_after: TimeLike | None = None,
    ) -> AgentRunResponse:
        """Start an agent run, never twice for one ``idempotency_key``.

        The key (a fresh uuid4 hex unless given) is stored in the run's metadata under
        :data:`IDEMPOTENCY_METADATA_KEY`. With a key of yours, a run that already has it is
        returned instead (``run.reused`` is then ``True``): the one this client made or
        found before (one GET), or one found by paging the org's runs newest first back to
        ``created_after`` (when the key's intent began: epoch seconds or a datetime;
        default :data:`DEFAULT_KEY_LOOKBACK`, one day, before now). Calls with one key in
        one process run one at a time, so concurrent calls share one create. Before any
        retry of the POST, the runs created since the call began are searched the same way.
        """
        call = KeyedCreate(
            self._org,
            prompt,
            images,
            metadata,
            repo_id,
            model,
            agent_type,
            idempotency_key,
            self._client.clock.now(),
        )
        return self._once(call, created_after, scan=True)

    def _once(
        self, call: KeyedCreate, created_after: TimeLike | None, *, scan: bool
    ) -> AgentRunResponse:
        """:meth:`_create`, under the org-wide claim on the key when processes coordinate."""
        link = self._client.coordination
        if link is not None and call.keyed:  # once across processes (docs/deployment.md)
            return link.keyed_create(
                call.key,
                lambda: self._create(call, created_after, scan=scan),
                lambda run_id: _reused(self.get(run_id)),
            )
        return self._create(call, created_after, scan=scan)

    def _create(
        self, call: KeyedCreate, created_after: TimeLike | None, *, scan: bool
    ) -> AgentRunResponse:
        """Create ``call`` once per key; ``scan=False``: the caller just scanned for it."""
        if not call.keyed:
            return self._run(call.spec)
        with flight((self._client.base_url, self._org, call.key)):
            found = self._existing(call.key, created_after, scan=scan)
            if found is not None:
                return _reused(found)
            run = self._run(call.spec)
            self._memo.put(call.key, run.id)
            return run

    def _create_from(
        self, prompt: str, kwargs: Mapping[str, Any], created_after: TimeLike | None, scan: bool
    ) -> AgentRunResponse:
        """``create(prompt, **kwargs)`` for a batch (``scan=False``: it scanned already)."""
        call = create_call(self._org, self._client.clock.now(), prompt, kwargs)
        return self._once(call, created_after, scan=scan)

    def _existing(
        self, key: str, created_after: TimeLike | None, *, scan: bool = True
    ) -> AgentRunResponse | None:
        remembered = self._memo.get(key)
        if remembered is not None:
            try:
                run = self.get(remembered)
            except NotFoundError:
                run = None
            if run is not None and has_key(run, key):
                return run
            self._memo.drop(key)
        if not scan:
            return None
        found = self.find_by_idempotency_key(key, created_after=created_after)
        if found is not None:
            self._memo.put(key, found.id)
        return found

    def get(self, agent_run_id: int) -> AgentRunResponse:
        """One agent run by id."""
        return self._run(_spec_get(self._org, agent_run_id))

    def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        user_id: int | None = None,
        source_type: SourceType | str | None = None,
    ) -> Page[AgentRunResponse]:
        """One page of the organisation's runs (newest first)."""
        return self._run(_spec_list(self._org, skip, limit, user_id, source_type))

    def iter(
        self,
        *,
        user_id: int | None = None,
        source_type: SourceType | str | None = None,
        page_size: int = 100,
    ) -> Iterator[AgentRunResponse]:
        """Every run, fetching pages as needed; a run seen on an earlier page is skipped."""
        first = _spec_list(self._org, 0, check_limit(page_size, "page_size"), user_id, source_type)

        def pages() -> Iterator[AgentRunResponse]:
            skip: int | None = 0
            seen: set[int] = set()
            spec = first
            while skip is not None:
                page = self._run(spec)
                for run in page.items:
                    if run.id not in seen:
                        seen.add(run.id)
                        yield run
                skip = next_skip(skip, len(page.items), page.total, page_size)
                if skip is not None:
                    spec = _spec_list(self._org, skip, page_size, user_id, source_type)

        return pages()

    def resume(
        self,
        agent_run_id: int,
        prompt: str,
        *,
        images: Sequence[str] | None = None,
        idempotency_key: str | None = None,
    ) -> AgentRunResponse:
        """Send a follow-up prompt to a run, at most once per ``idempotency_key``.

        With a key, the prompt starts with the line ``[codegen-graph follow-up <key>]``; a
        follow-up whose marker is already in the run's log (read newest first, one request
        per 100 entries) is not sent again: the run is returned with ``reused=True``. This
        relies on the API logging follow-ups, as the local backend does (``USER_MESSAGE``).
        """
        spec = resume_spec(self._org, agent_run_id, prompt, images, idempotency_key)
        if idempotency_key is None:
            return self._run(spec)
        with_key = ("resume", idempotency_key)
        with flight((self._client.base_url, self._org, "|".join(with_key))):
            if self._resumed.get(idempotency_key) == agent_run_id:
                return _reused(self.get(agent_run_id))
            marker = resume_marker(idempotency_key)
            step: LogScanStep | None = None
            scan: RequestSpec[LogScanStep] | None = log_scan_spec(self._org, agent_run_id, marker)
            while scan is not None:
                step = self._run(scan)
                if step.found is not None:
                    self._resumed.put(idempotency_key, agent_run_id)
                    return _reused(self.get(agent_run_id))
                scan = step.next
            run = self._run(spec)
            self._resumed.put(idempotency_key, agent_run_id)
            return run

    def logs(
        self, agent_run_id: int, *, skip: int = 0, limit: int = 100, reverse: bool = False
    ) -> AgentRunWithLogsResponse:
        """One page of a run's log entries (oldest first unless ``reverse``)."""
        return self._run(_spec_logs(self._org, agent_run_id, skip, limit, reverse))

    def iter_logs(
        self, agent_run_id: int, *, reverse: bool = False, page_size: int = 100
    ) -> Iterator[AgentRunLogResponse]:
        """Every log entry of a run, fetching pages as needed."""
        first = _spec_logs(self._org, agent_run_id, 0, check_limit(page_size, "page_size"), reverse)

        def entries() -> Iterator[AgentRunLogResponse]:
            skip: int | None = 0
            spec = first
            while skip is not None:
                page = self._run(spec)
                yield from page.logs
                skip = next_skip(skip, len(page.logs), page.total_logs, page_size)
                if skip is not None:
                    spec = _spec_logs(self._org, agent_run_id, skip, page_size, reverse)

        return entries()

    def ban(self, agent_run_id: int) -> None:
        """Ban all checks for the run (it stops reacting to CI)."""
        self._run(_spec_stop(self._org, "ban", agent_run_id))

    def unban(self, agent_run_id: int) -> None:
        """Undo :meth:`ban`."""
        self._run(_spec_stop(self._org, "unban", agent_run_id))

    def remove_from_pr(self, agent_run_id: int) -> None:
        """Remove Codegen from the run's pull request."""
        self._run(_spec_stop(self._org, "remove-from-pr", agent_run_id))

    # -- run handles -------------------------------------------------------------------------
    def find_by_idempotency_key(
        self, key: str, *, created_after: TimeLike | None = None
    ) -> AgentRunResponse | None:
        """The run created with ``key``, or ``None``.

        Pages the org's runs newest first until the run is found or a page reaches back
        past ``created_after`` (default: one day ago, :data:`DEFAULT_KEY_LOOKBACK`) minus
        five minutes of clock skew: one request per 100 runs created since then.
        """
        check_text("idempotency_key", key)
        bound = lookup_bound(created_after, self._client.clock.now())
        spec: RequestSpec[ScanStep] | None = scan_spec(self._org, frozenset({key}), bound)
        while spec is not None:
            step = self._run(spec)
            if step.first(key) is not None:
                return step.first(key)
            spec = step.next
        return None

    def find_by_idempotency_keys(
        self, keys: Sequence[str], *, created_after: TimeLike | None = None
    ) -> dict[str, AgentRunResponse]:
        """The runs created with any of ``keys`` (one scan for all; see the one-key form)."""
        wanted = frozenset(check_text("idempotency_key", k) for k in keys)
        if not wanted:
            return {}
        bound = lookup_bound(created_after, self._client.clock.now())
        spec: RequestSpec[ScanStep] | None = scan_spec(self._org, wanted, bound)
        found: dict[str, AgentRunResponse] = {}
        while spec is not None:
            step = self._run(spec)
            found = step.found
            spec = step.next
        for key, run in found.items():
            self._memo.put(key, run.id)
        return found

    def attach(self, run: int | AgentRunResponse) -> AgentRun:
        """A handle on an existing run (by id: one GET; by model: no request)."""
        data = run if isinstance(run, AgentRunResponse) else self.get(run)
        return AgentRun(self._client, data)

    def start(self, prompt: str, *, reuse_existing: bool = True, **create_kwargs: Any) -> AgentRun:
        """:meth:`create` a run and return a handle on it (arguments as for ``create``).

        With an ``idempotency_key``, a run already created with that key (by an earlier
        call or process) is attached to instead (``handle.reused``). ``reuse_existing``
        is kept for compatibility: a keyed create always reuses (``False`` with a key is
        refused). A keyed start is safe to retry, so it keeps going through transient
        failures (see :func:`codegen_graph._batch.keep_trying`).
        """
        _check_reuse(reuse_existing, create_kwargs)

        def attempt(_retrying: bool) -> AgentRun:  # a keyed create looks its key up first
            return self.attach(self.create(prompt, **create_kwargs))

        if create_kwargs.get("idempotency_key"):
            return keep_trying(self._client, attempt)
        return attempt(False)

    def create_and_wait(
        self,
        prompt: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        output_schema: type[BaseModel] | None = None,
        output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
        **create_kwargs: Any,
    ) -> AgentRun:
        """Create a run and wait for it through the client's watcher; returns the handle.

        With ``output_schema`` (a pydantic model), the prompt asks for a JSON object of that
        schema at the end of the final answer, and the validated object is on the
        handle's ``output`` (an invalid answer resumes the run with the errors, at most
        ``output_attempts`` answers in all; then :class:`OutputValidationError`).
        """
        if output_schema is not None:
            prompt = OutputSpec(output_schema, max_attempts=output_attempts).with_instructions(
                prompt
            )
        run = self.start(prompt, **create_kwargs)
        return run.wait(
            timeout,
            raise_on_failure=raise_on_failure,
            output_schema=output_schema,
            output_attempts=output_attempts,
        )

    def run_many(
        self,
        prompts: Sequence[BatchPrompt],
        *,
        concurrency: int = 10,
        timeout: float | None = None,
        on_progress: Callable[[BatchProgress], Any] | None = None,
        key_prefix: str | None = None,
        created_after: TimeLike | None = None,
        **create_kwargs: Any,
    ) -> builtins.list[BatchItem[AgentRun]]:
        """Create many runs under the create budget and wait for all; see :mod:`._batch`.

        Returns one :class:`BatchItem` per prompt, in input order; a failure is reported on
        its item (``item.error``) without losing the others. ``key_prefix`` makes the batch
        re-runnable without duplicates (item ``i`` uses idempotency key ``f"{prefix}-{i}"``):
        one scan of the runs created since ``created_after`` (default: one day ago; pass an
        earlier batch's ``item.started_at`` to reach further) finds the keys that already
        have a run, and those items attach to it (``item.run.reused``).
        """
        return run_many_sync(
            self._client,
            prompts,
            concurrency=concurrency,
            timeout=timeout,
            on_progress=on_progress,
            key_prefix=key_prefix,
            created_after=created_after,
            **create_kwargs,
        )


class AsyncAgentRuns(AsyncAPIResource):
    """Agent runs of the client's organisation (``client.agent_runs``), async."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._memo = KeyMemo()
        self._resumed = KeyMemo()

    async def create(
        self,
        prompt: str,
        *,
        images: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        repo_id: int | None = None,
        model: str | None = None,
        agent_type: AgentType | None = None,
        idempotency_key: str | None = None,
        created_after: TimeLike | None = None,
    ) -> AgentRunResponse:
        """Start an agent run, never twice for one ``idempotency_key`` (see the sync twin)."""
        call = KeyedCreate(
            self._org,
            prompt,
            images,
            metadata,
            repo_id,
            model,
            agent_type,
            idempotency_key,
            self._client.clock.now(),
        )
        return await self._once(call, created_after, scan=True)

    async def _once(
        self, call: KeyedCreate, created_after: TimeLike | None, *, scan: bool
    ) -> AgentRunResponse:
        """:meth:`_create`, under the org-wide claim on the key when processes coordinate."""
        link = self._client.coordination
        if link is not None and call.keyed:  # once across processes (docs/deployment.md)
            return await link.akeyed_create(
                call.key,
                lambda: self._create(call, created_after, scan=scan),
                self._get_reused,
            )
        return await self._create(call, created_after, scan=scan)

    async def _get_reused(self, run_id: int) -> AgentRunResponse:
        return _reused(await self.get(run_id))

    async def _create(
        self, call: KeyedCreate, created_after: TimeLike | None, *, scan: bool
    ) -> AgentRunResponse:
        """Create ``call`` once per key; ``scan=False``: the caller just scanned for it."""
        if not call.keyed:
            return await self._run(call.spec)
        async with aflight((self._client.base_url, self._org, call.key)):
            found = await self._existing(call.key, created_after, scan=scan)
            if found is not None:
                return _reused(found)
            run = await self._run(call.spec)
            self._memo.put(call.key, run.id)
            return run

    async def _create_from(
        self, prompt: str, kwargs: Mapping[str, Any], created_after: TimeLike | None, scan: bool
    ) -> AgentRunResponse:
        """``create(prompt, **kwargs)`` for a batch (``scan=False``: it scanned already)."""
        call = create_call(self._org, self._client.clock.now(), prompt, kwargs)
        return await self._once(call, created_after, scan=scan)

    async def _existing(
        self, key: str, created_after: TimeLike | None, *, scan: bool = True
    ) -> AgentRunResponse | None:
        remembered = self._memo.get(key)
        if remembered is not None:
            try:
                run: AgentRunResponse | None = await self.get(remembered)
            except NotFoundError:
                run = None
            if run is not None and has_key(run, key):
                return run
            self._memo.drop(key)
        if not scan:
            return None
        found = await self.find_by_idempotency_key(key, created_after=created_after)
        if found is not None:
            self._memo.put(key, found.id)
        return found

    async def get(self, agent_run_id: int) -> AgentRunResponse:
        """One agent run by id."""
        return await self._run(_spec_get(self._org, agent_run_id))

    async def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        user_id: int | None = None,
        source_type: SourceType | str | None = None,
    ) -> Page[AgentRunResponse]:
        """One page of the organisation's runs (newest first)."""
        return await self._run(_spec_list(self._org, skip, limit, user_id, source_type))

    def iter(
        self,
        *,
        user_id: int | None = None,
        source_type: SourceType | str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[AgentRunResponse]:
        """Every run, fetching pages as needed; a run seen on an earlier page is skipped."""
        first = _spec_list(self._org, 0, check_limit(page_size, "page_size"), user_id, source_type)

        async def pages() -> AsyncIterator[AgentRunResponse]:
            skip: int | None = 0
            seen: set[int] = set()
            spec = first
            while skip is not None:
                page = await self._run(spec)
                for run in page.items:
                    if run.id not in seen:
                        seen.add(run.id)
                        yield run
                skip = next_skip(skip, len(page.items), page.total, page_size)
                if skip is not None:
                    spec = _spec_list(self._org, skip, page_size, user_id, source_type)

        return pages()

    async def resume(
        self,
        agent_run_id: int,
        prompt: str,
        *,
        images: Sequence[str] | None = None,
        idempotency_key: str | None = None,
    ) -> AgentRunResponse:
        """Send a follow-up prompt to a run, at most once per ``idempotency_key``.

        With a key, the prompt starts with the line ``[codegen-graph follow-up <key>]``; a
        follow-up whose marker is already in the run's log (read newest first, one request
        per 100 entries) is not sent again: the run is returned with ``reused=True``. This
        relies on the API logging follow-ups, as the local backend does (``USER_MESSAGE``).
        """
        spec = resume_spec(self._org, agent_run_id, prompt, images, idempotency_key)
        if idempotency_key is None:
            return await self._run(spec)
        with_key = ("resume", idempotency_key)
        async with aflight((self._client.base_url, self._org, "|".join(with_key))):
            if self._resumed.get(idempotency_key) == agent_run_id:
                return _reused(await self.get(agent_run_id))
            marker = resume_marker(idempotency_key)
            step: LogScanStep | None = None
            scan: RequestSpec[LogScanStep] | None = log_scan_spec(self._org, agent_run_id, marker)
            while scan is not None:
                step = await self._run(scan)
                if step.found is not None:
                    self._resumed.put(idempotency_key, agent_run_id)
                    return _reused(await self.get(agent_run_id))
                scan = step.next
            run = await self._run(spec)
            self._resumed.put(idempotency_key, agent_run_id)
            return run

    async def logs(
        self, agent_run_id: int, *, skip: int = 0, limit: int = 100, reverse: bool = False
    ) -> AgentRunWithLogsResponse:
        """One page of a run's log entries (oldest first unless ``reverse``)."""
        return await self._run(_spec_logs(self._org, agent_run_id, skip, limit, reverse))

    def iter_logs(
        self, agent_run_id: int, *, reverse: bool = False, page_size: int = 100
    ) -> AsyncIterator[AgentRunLogResponse]:
        """Every log entry of a run, fetching pages as needed."""
        first = _spec_logs(self._org, agent_run_id, 0, check_limit(page_size, "page_size"), reverse)

        async def entries() -> AsyncIterator[AgentRunLogResponse]:
            skip: int | None = 0
            spec = first
            while skip is not None:
                page = await self._run(spec)
                for entry in page.logs:
                    yield entry
                skip = next_skip(skip, len(page.logs), page.total_logs, page_size)
                if skip is not None:
                    spec = _spec_logs(self._org, agent_run_id, skip, page_size, reverse)

        return entries()

    async def ban(self, agent_run_id: int) -> None:
        """Ban all checks for the run (it stops reacting to CI)."""
        await self._run(_spec_stop(self._org, "ban", agent_run_id))

    async def unban(self, agent_run_id: int) -> None:
        """Undo :meth:`ban`."""
        await self._run(_spec_stop(self._org, "unban", agent_run_id))

    async def remove_from_pr(self, agent_run_id: int) -> None:
        """Remove Codegen from the run's pull request."""
        await self._run(_spec_stop(self._org, "remove-from-pr", agent_run_id))

    # -- run handles -------------------------------------------------------------------------
    async def find_by_idempotency_key(
        self, key: str, *, created_after: TimeLike | None = None
    ) -> AgentRunResponse | None:
        """The run created with ``key``, or ``None`` (see the sync twin)."""
        check_text("idempotency_key", key)
        bound = lookup_bound(created_after, self._client.clock.now())
        spec: RequestSpec[ScanStep] | None = scan_spec(self._org, frozenset({key}), bound)
        while spec is not None:
            step = await self._run(spec)
            if step.first(key) is not None:
                return step.first(key)
            spec = step.next
        return None

    async def find_by_idempotency_keys(
        self, keys: Sequence[str], *, created_after: TimeLike | None = None
    ) -> dict[str, AgentRunResponse]:
        """The runs created with any of ``keys`` (one scan for all)."""
        wanted = frozenset(check_text("idempotency_key", k) for k in keys)
        if not wanted:
            return {}
        bound = lookup_bound(created_after, self._client.clock.now())
        spec: RequestSpec[ScanStep] | None = scan_spec(self._org, wanted, bound)
        found: dict[str, AgentRunResponse] = {}
        while spec is not None:
            step = await self._run(spec)
            found = step.found
            spec = step.next
        for key, run in found.items():
            self._memo.put(key, run.id)
        return found

    async def attach(self, run: int | AgentRunResponse) -> AsyncAgentRun:
        """A handle on an existing run (by id: one GET; by model: no request)."""
        data = run if isinstance(run, AgentRunResponse) else await self.get(run)
        return AsyncAgentRun(self._client, data)

    async def start(
        self, prompt: str, *, reuse_existing: bool = True, **create_kwargs: Any
    ) -> AsyncAgentRun:
        """:meth:`create` a run and return a handle on it; see :meth:`AgentRuns.start`."""
        _check_reuse(reuse_existing, create_kwargs)

        async def attempt(_retrying: bool) -> AsyncAgentRun:
            return await self.attach(await self.create(prompt, **create_kwargs))

        if create_kwargs.get("idempotency_key"):
            return await akeep_trying(self._client, attempt)
        return await attempt(False)

    async def create_and_wait(
        self,
        prompt: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        output_schema: type[BaseModel] | None = None,
        output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
        **create_kwargs: Any,
    ) -> AsyncAgentRun:
        """Create a run and wait for it; see :meth:`AgentRuns.create_and_wait`."""
        if output_schema is not None:
            prompt = OutputSpec(output_schema, max_attempts=output_attempts).with_instructions(
                prompt
            )
        run = await self.start(prompt, **create_kwargs)
        return await run.wait(
            timeout,
            raise_on_failure=raise_on_failure,
            output_schema=output_schema,
            output_attempts=output_attempts,
        )

    async def run_many(
        self,
        prompts: Sequence[BatchPrompt],
        *,
        concurrency: int = 10,
        timeout: float | None = None,
        on_progress: Callable[[BatchProgress], Any] | None = None,
        key_prefix: str | None = None,
        created_after: TimeLike | None = None,
        **create_kwargs: Any,
    ) -> builtins.list[BatchItem[AsyncAgentRun]]:
        """Create many runs under the create budget and wait for all; see :mod:`._batch`.

        Returns one :class:`BatchItem` per prompt, in input order; a failure is reported on
        its item (``item.error``) without losing the others. ``key_prefix`` makes the batch
        re-runnable without duplicates (see the sync twin).
        """
        return await run_many_async(
            self._client,
            prompts,
            concurrency=concurrency,
            timeout=timeout,
            on_progress=on_progress,
            key_prefix=key_prefix,
            created_after=created_after,
            **create_kwargs,
        )
