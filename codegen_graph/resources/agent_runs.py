"""``client.agent_runs``: create, read, list, resume and moderate agent runs.

Each endpoint is described once by a ``_spec_*`` function; :class:`AgentRuns` and
:class:`AsyncAgentRuns` only execute those descriptions.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from .._base_client import Recovery, RequestSpec
from .._batch import (
    BatchItem,
    BatchProgress,
    BatchPrompt,
    akeep_trying,
    keep_trying,
    run_many_async,
    run_many_sync,
)
from .._exceptions import ConfigurationError
from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputSpec
from .._runs import AgentRun, AsyncAgentRun
from ..models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    AgentType,
    CreateAgentRunInput,
    Page,
    ResumeAgentRunInput,
    SourceType,
    StopAgentRunInput,
)
from ._resource import (
    AsyncAPIResource,
    SyncAPIResource,
    build_input,
    check_id,
    check_limit,
    check_metadata,
    check_skip,
    check_text,
    next_skip,
)

__all__ = ["IDEMPOTENCY_METADATA_KEY", "AgentRuns", "AsyncAgentRuns"]

#: The metadata key under which ``create`` stores its idempotency key.
IDEMPOTENCY_METADATA_KEY = "codegen_graph_idempotency_key"

#: How many of the most recent runs the duplicate check looks through.
_LOOKUP_WINDOW = 100


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


def _pick_by_key(key: str) -> Any:
    def pick(page: Page[AgentRunResponse]) -> AgentRunResponse | None:
        for run in page.items:
            if (run.metadata or {}).get(IDEMPOTENCY_METADATA_KEY) == key:
                return run
        return None

    return pick


def _spec_find(org: int, key: str) -> RequestSpec[AgentRunResponse | None]:
    check_text("idempotency_key", key)
    return RequestSpec(
        "GET",
        f"{_base(org)}/runs",
        parse=lambda data: _pick_by_key(key)(Page[AgentRunResponse].model_validate(data)),
        params={"skip": 0, "limit": _LOOKUP_WINDOW},
    )


def _spec_create(
    org: int,
    prompt: str,
    images: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    repo_id: int | None,
    model: str | None,
    agent_type: AgentType | None,
    idempotency_key: str | None,
) -> RequestSpec[AgentRunResponse]:
    check_text("prompt", prompt)
    if repo_id is not None:
        check_id("repo_id", repo_id)
    meta = check_metadata(metadata)
    existing = meta.get(IDEMPOTENCY_METADATA_KEY)
    if idempotency_key is not None and existing not in (None, idempotency_key):
        raise ConfigurationError(
            f"metadata[{IDEMPOTENCY_METADATA_KEY!r}] and idempotency_key=... disagree; pass one"
        )
    key = idempotency_key or existing or uuid.uuid4().hex
    check_text("idempotency_key", key)
    meta[IDEMPOTENCY_METADATA_KEY] = key
    body = build_input(
        CreateAgentRunInput,
        prompt=prompt,
        images=list(images) if images is not None else None,
        metadata=meta,
        repo_id=repo_id,
        model=model,
        agent_type=agent_type,
    )
    return RequestSpec(
        "POST",
        f"{_base(org)}/run",
        parse=AgentRunResponse.model_validate,
        json=body.model_dump(mode="json", exclude_none=True),
        recovery=Recovery(
            lookup=_spec_list(org, 0, _LOOKUP_WINDOW, None, None), pick=_pick_by_key(key)
        ),
    )


def _given_key(idempotency_key: str | None, metadata: Mapping[str, Any] | None) -> str | None:
    """The idempotency key the caller chose, if any (a generated one is unique anyway)."""
    given = idempotency_key or (metadata or {}).get(IDEMPOTENCY_METADATA_KEY)
    return given if isinstance(given, str) else None


def _spec_get(org: int, agent_run_id: int) -> RequestSpec[AgentRunResponse]:
    check_id("agent_run_id", agent_run_id)
    return RequestSpec(
        "GET", f"{_base(org)}/run/{agent_run_id}", parse=AgentRunResponse.model_validate
    )


def _spec_resume(
    org: int, agent_run_id: int, prompt: str, images: Sequence[str] | None
) -> RequestSpec[AgentRunResponse]:
    check_id("agent_run_id", agent_run_id)
    check_text("prompt", prompt)
    body = build_input(
        ResumeAgentRunInput,
        agent_run_id=agent_run_id,
        prompt=prompt,
        images=list(images) if images is not None else None,
    )
    return RequestSpec(
        "POST",
        f"{_base(org)}/run/resume",
        parse=AgentRunResponse.model_validate,
        json=body.model_dump(mode="json", exclude_none=True),
        idempotent=False,
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
    ) -> AgentRunResponse:
        """Start an agent run, never twice for one ``idempotency_key``.

        The key (a fresh uuid4 hex unless given) is stored in the run's metadata under
        :data:`IDEMPOTENCY_METADATA_KEY`. Before any retry, the org's 100 most recent runs
        are searched for it, and a run found there is returned instead of posting again.
        """
        spec = _spec_create(
            self._org, prompt, images, metadata, repo_id, model, agent_type, idempotency_key
        )
        link, key = self._client.coordination, _given_key(idempotency_key, metadata)
        if link is not None and key is not None:  # once across processes (docs/deployment.md)
            return link.keyed_create(key, lambda: self._run(spec), self.get)
        return self._run(spec)

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
        self, agent_run_id: int, prompt: str, *, images: Sequence[str] | None = None
    ) -> AgentRunResponse:
        """Send a follow-up prompt to a run."""
        return self._run(_spec_resume(self._org, agent_run_id, prompt, images))

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
    def find_by_idempotency_key(self, key: str) -> AgentRunResponse | None:
        """The run created with ``key``, among the org's 100 most recent runs (one request)."""
        return self._run(_spec_find(self._org, key))

    def attach(self, run: int | AgentRunResponse) -> AgentRun:
        """A handle on an existing run (by id: one GET; by model: no request)."""
        data = run if isinstance(run, AgentRunResponse) else self.get(run)
        return AgentRun(self._client, data)

    def start(self, prompt: str, *, reuse_existing: bool = False, **create_kwargs: Any) -> AgentRun:
        """:meth:`create` a run and return a handle on it (arguments as for ``create``).

        With ``reuse_existing=True`` and an ``idempotency_key``, a run already created with
        that key (by an earlier process, say) is attached to instead of creating another.
        A keyed start is safe to retry, so it keeps going through transient failures
        (see :func:`codegen_graph._batch.keep_trying`).
        """
        key = create_kwargs.get("idempotency_key")

        def attempt(retrying: bool) -> AgentRun:
            reuse = reuse_existing or retrying
            found = self.find_by_idempotency_key(key) if key and reuse else None
            return self.attach(found if found is not None else self.create(prompt, **create_kwargs))

        return keep_trying(self._client, attempt) if key else attempt(False)

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
        **create_kwargs: Any,
    ) -> builtins.list[BatchItem[AgentRun]]:
        """Create many runs under the create budget and wait for all; see :mod:`._batch`.

        Returns one :class:`BatchItem` per prompt, in input order; a failure is reported on
        its item (``item.error``) without losing the others. ``key_prefix`` makes the batch
        re-runnable without duplicates (item ``i`` uses idempotency key ``f"{prefix}-{i}"``).
        """
        return run_many_sync(
            self._client,
            prompts,
            concurrency=concurrency,
            timeout=timeout,
            on_progress=on_progress,
            key_prefix=key_prefix,
            **create_kwargs,
        )


class AsyncAgentRuns(AsyncAPIResource):
    """Agent runs of the client's organisation (``client.agent_runs``), async."""

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
    ) -> AgentRunResponse:
        """Start an agent run, never twice for one ``idempotency_key`` (see the sync twin)."""
        spec = _spec_create(
            self._org, prompt, images, metadata, repo_id, model, agent_type, idempotency_key
        )
        link, key = self._client.coordination, _given_key(idempotency_key, metadata)
        if link is not None and key is not None:  # once across processes (docs/deployment.md)
            return await link.akeyed_create(key, lambda: self._run(spec), self.get)
        return await self._run(spec)

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
        self, agent_run_id: int, prompt: str, *, images: Sequence[str] | None = None
    ) -> AgentRunResponse:
        """Send a follow-up prompt to a run."""
        return await self._run(_spec_resume(self._org, agent_run_id, prompt, images))

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
    async def find_by_idempotency_key(self, key: str) -> AgentRunResponse | None:
        """The run created with ``key``, among the org's 100 most recent runs (one request)."""
        return await self._run(_spec_find(self._org, key))

    async def attach(self, run: int | AgentRunResponse) -> AsyncAgentRun:
        """A handle on an existing run (by id: one GET; by model: no request)."""
        data = run if isinstance(run, AgentRunResponse) else await self.get(run)
        return AsyncAgentRun(self._client, data)

    async def start(
        self, prompt: str, *, reuse_existing: bool = False, **create_kwargs: Any
    ) -> AsyncAgentRun:
        """:meth:`create` a run and return a handle on it; see :meth:`AgentRuns.start`."""
        key = create_kwargs.get("idempotency_key")

        async def attempt(retrying: bool) -> AsyncAgentRun:
            reuse = reuse_existing or retrying
            found = await self.find_by_idempotency_key(key) if key and reuse else None
            return await self.attach(
                found if found is not None else await self.create(prompt, **create_kwargs)
            )

        return await akeep_trying(self._client, attempt) if key else await attempt(False)

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
        **create_kwargs: Any,
    ) -> builtins.list[BatchItem[AsyncAgentRun]]:
        """Create many runs under the create budget and wait for all; see :mod:`._batch`.

        Returns one :class:`BatchItem` per prompt, in input order; a failure is reported on
        its item (``item.error``) without losing the others. ``key_prefix`` makes the batch
        re-runnable without duplicates (item ``i`` uses idempotency key ``f"{prefix}-{i}"``).
        """
        return await run_many_async(
            self._client,
            prompts,
            concurrency=concurrency,
            timeout=timeout,
            on_progress=on_progress,
            key_prefix=key_prefix,
            **create_kwargs,
        )
