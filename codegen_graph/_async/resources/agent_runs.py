"""``client.agent_runs``: create, read, list, resume, stop and wait for agent runs.

The calls are described in :mod:`codegen_graph._specs`; keyed creates and follow-ups go
through the client's one keyed path (:mod:`.keyed`), waits through its watcher, batches
through :mod:`.batch`.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ..._checks import check_id, check_limit, check_text, next_skip
from ..._exceptions import ConfigurationError
from ..._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec
from ..._specs import (
    KeyedCreate,
    RunPage,
    TimeLike,
    check_create_args,
    get_run,
    key_of,
    list_runs,
    lookup_bound,
    run_logs,
    stop_run,
)
from ...models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    AgentType,
    SourceType,
)
from ..batch import BatchItem, BatchProgress, BatchPrompt, async_run_many
from ..runs import AsyncAgentRun, AsyncRunHost, async_iter_logs

__all__ = ["AsyncAgentRuns"]


def _check_reuse(reuse_existing: bool, create_kwargs: Mapping[str, Any]) -> None:
    if not reuse_existing and key_of(create_kwargs):
        raise ConfigurationError(
            "reuse_existing=False is no longer supported: a create with an idempotency_key "
            "always returns the run the key already has; use a new key for a new run"
        )


class AsyncAgentRuns:
    """Agent runs of the client's organisation (``client.agent_runs``)."""

    def __init__(self, client: AsyncRunHost) -> None:
        self._client = client

    @property
    def _org(self) -> int:
        return self._client.org_id

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
        """Start an agent run, never twice for one ``idempotency_key``.

        The key (a fresh uuid4 hex unless given) is stored in the run's metadata under
        ``IDEMPOTENCY_METADATA_KEY``. With a key of yours, a run that already has it is
        returned instead (``run.reused`` is then ``True``): the one this process made or
        found before (one GET), or one found by paging the org's runs newest first back to
        ``created_after`` (when the key's intent began: epoch seconds or a datetime;
        default ``DEFAULT_KEY_LOOKBACK``, one day, before now; the earliest bound given for
        the key in this process wins). Calls with one key in one process, from any client,
        thread or task, run one at a time, so concurrent calls share one create. Before any
        retry of the POST, the runs created since the call began are searched the same way.
        """
        call = KeyedCreate(
            self._org,
            prompt,
            now=self._client.clock.now(),
            images=images,
            metadata=metadata,
            repo_id=repo_id,
            model=model,
            agent_type=agent_type,
            idempotency_key=idempotency_key,
        )
        return await self._client.keyed.create(call, created_after=created_after)

    async def get(self, agent_run_id: int) -> AgentRunResponse:
        """One agent run by id."""
        return await self._client.request(get_run(self._org, agent_run_id))

    async def list(
        self,
        *,
        skip: int = 0,
        limit: int = 100,
        user_id: int | None = None,
        source_type: SourceType | str | None = None,
    ) -> RunPage:
        """One page of the organisation's runs (newest first; a run that does not match
        the API's model is skipped and said once at WARNING)."""
        return await self._client.request(list_runs(self._org, skip, limit, user_id, source_type))

    def iter(
        self,
        *,
        user_id: int | None = None,
        source_type: SourceType | str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[AgentRunResponse]:
        """Every run, fetching pages as needed; a run seen on an earlier page is skipped."""
        list_runs(self._org, 0, check_limit(page_size, "page_size"), user_id, source_type)
        return self._pages(user_id, source_type, page_size)

    async def _pages(
        self, user_id: int | None, source_type: SourceType | str | None, page_size: int
    ) -> AsyncIterator[AgentRunResponse]:
        skip: int | None = 0
        seen: set[int] = set()
        while skip is not None:
            spec = list_runs(self._org, skip, page_size, user_id, source_type)
            page = await self._client.request(spec)
            for run in page.items:
                if run.id not in seen:
                    seen.add(run.id)
                    yield run
            skip = next_skip(skip, page.received, page.total, page_size)

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
        per 100 entries) is not sent again: the run is returned with ``reused=True``. Only
        that marker counts: other follow-ups the run received meanwhile (from Codegen's UI,
        say) never make this one look sent.
        """
        return await self._client.keyed.resume(agent_run_id, prompt, images, idempotency_key)

    async def logs(
        self, agent_run_id: int, *, skip: int = 0, limit: int = 100, reverse: bool = False
    ) -> AgentRunWithLogsResponse:
        """One page of a run's log entries (oldest first unless ``reverse``)."""
        return await self._client.request(run_logs(self._org, agent_run_id, skip, limit, reverse))

    def iter_logs(
        self, agent_run_id: int, *, reverse: bool = False, page_size: int = 100
    ) -> AsyncIterator[AgentRunLogResponse]:
        """Every log entry of a run, fetching pages as needed."""
        run_logs(self._org, agent_run_id, 0, check_limit(page_size, "page_size"), reverse)
        return async_iter_logs(self._client, agent_run_id, reverse=reverse, page_size=page_size)

    async def stop(self, agent_run_id: int) -> AgentRunResponse:
        """Stop a run and read its state: see :meth:`AsyncAgentRun.stop`."""
        check_id("agent_run_id", agent_run_id)
        run = AgentRunResponse(id=agent_run_id, organization_id=self._org)
        return (await AsyncAgentRun(self._client, run).stop()).data

    async def ban(self, agent_run_id: int) -> None:
        """Ban all checks for the run: the agent stops working on it (see ``stop``)."""
        await self._client.request(stop_run(self._org, "ban", agent_run_id))

    async def unban(self, agent_run_id: int) -> None:
        """Undo :meth:`ban`."""
        await self._client.request(stop_run(self._org, "unban", agent_run_id))

    async def remove_from_pr(self, agent_run_id: int) -> None:
        """Remove Codegen from the run's pull request."""
        await self._client.request(stop_run(self._org, "remove-from-pr", agent_run_id))

    async def find_by_idempotency_key(
        self, key: str, *, created_after: TimeLike | None = None
    ) -> AgentRunResponse | None:
        """The run created with ``key``, or ``None``.

        Pages the org's runs newest first until the run is found or a page reaches back
        past ``created_after`` (default: one day ago) minus five minutes of clock skew: one
        request per 100 runs created since then.
        """
        found = await self.find_by_idempotency_keys([key], created_after=created_after)
        return found.get(key)

    async def find_by_idempotency_keys(
        self, keys: Sequence[str], *, created_after: TimeLike | None = None
    ) -> dict[str, AgentRunResponse]:
        """The runs created with any of ``keys`` (one scan for all; see the one-key form)."""
        wanted = {check_text("idempotency_key", k) for k in keys}
        if not wanted:
            return {}
        bound = lookup_bound(created_after, self._client.clock.now())
        return await self._client.keyed.find(wanted, bound)

    async def attach(self, run: int | AgentRunResponse) -> AsyncAgentRun:
        """A handle on an existing run (by id: one GET; by model: no request)."""
        data = run if isinstance(run, AgentRunResponse) else await self.get(run)
        return AsyncAgentRun(self._client, data)

    async def start(
        self, prompt: str, *, reuse_existing: bool = True, **create_kwargs: Any
    ) -> AsyncAgentRun:
        """:meth:`create` a run and return a handle on it (arguments as for ``create``).

        With an ``idempotency_key``, a run already created with that key (by an earlier
        call or process) is attached to instead (``handle.reused``). A keyed start is safe
        to retry, so it keeps going through transient failures until the deadline of the
        batch it runs in (none outside one). ``reuse_existing=False`` with a key is refused.
        """
        _check_reuse(reuse_existing, create_kwargs)
        check_create_args({k: v for k, v in create_kwargs.items() if k != "created_after"})

        async def attempt(_retrying: bool) -> AgentRunResponse:
            return await self.create(prompt, **create_kwargs)

        if create_kwargs.get("idempotency_key"):
            return AsyncAgentRun(self._client, await self._client.keyed.persist(attempt))
        return AsyncAgentRun(self._client, await attempt(False))

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
        """Create a run and wait for it through the client's watcher; returns the handle.

        With ``output_schema`` (a pydantic model), the prompt asks for a JSON object of that
        schema at the end of the final answer, and the validated object is on the
        handle's ``output`` (an invalid answer resumes the run with the errors, at most
        ``output_attempts`` answers in all; then :class:`OutputValidationError`).
        """
        if output_schema is not None:
            spec = OutputSpec(output_schema, max_attempts=output_attempts)
            prompt = spec.with_instructions(prompt)
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
        """Create many runs under the create budget and wait for all (see ``_async/batch``).

        Returns one :class:`BatchItem` per prompt, in input order; a failure is reported on
        its item (``item.error``) without losing the others. ``key_prefix`` makes the batch
        re-runnable without duplicates (item ``i`` uses idempotency key ``f"{prefix}-{i}"``):
        one scan of the runs created since ``created_after`` (default: one day ago; pass an
        earlier batch's ``item.started_at`` to reach further) finds the keys that already
        have a run, and those items attach to it (``item.run.reused``); the others create
        through the same keyed path as :meth:`create`.
        """
        return await async_run_many(
            self._client,
            prompts,
            concurrency=concurrency,
            timeout=timeout,
            on_progress=on_progress,
            key_prefix=key_prefix,
            created_after=created_after,
            **create_kwargs,
        )
