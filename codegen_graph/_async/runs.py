"""Run handles: an agent run you can wait on, stream, resume and stop.

Waiting goes through the client's one batched watcher, so a thousand waiting handles cost
the API what one does. A log stream reads the alpha logs endpoint incrementally; between
two reads (and while the logs budget, which every stream of the client shares, has no slot
free) it waits for the run through the watcher, so a run's end is seen at the watcher's pace
however busy the logs budget is, and the stream then reads its last entries (see
:mod:`codegen_graph._handle`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel

from .._checks import check_limit, check_timeout, next_skip
from .._concurrency import async_resolve
from .._exceptions import CodegenError, RateLimitError, RunTimeoutError
from .._handle import LOG_PAGE, HandleBase, StreamState, check_deadline, check_failure
from .._output import DEFAULT_OUTPUT_ATTEMPTS, OutputAttempt, OutputSpec, count_repairs
from .._specs import PAGE, get_run, run_logs, stop_run
from ..models import AgentRunLogResponse, AgentRunResponse
from .keyed import AsyncKeyedCreates
from .output import async_repair
from .requester import AsyncRequester
from .watcher import AsyncRunWatcher

__all__ = ["AsyncAgentRun", "AsyncRunHost", "async_iter_logs"]


class AsyncRunHost(AsyncRequester, Protocol):
    """What a handle needs of its client: the requester, its watcher, its keyed calls."""

    @property
    def watcher(self) -> AsyncRunWatcher: ...

    @property
    def keyed(self) -> AsyncKeyedCreates: ...


async def async_iter_logs(
    api: AsyncRequester, run_id: int, *, reverse: bool = False, page_size: int = PAGE
) -> AsyncIterator[AgentRunLogResponse]:
    """Every log entry of a run, fetching pages as needed."""
    check_limit(page_size, "page_size")
    skip: int | None = 0
    while skip is not None:
        page = await api.request(run_logs(api.org_id, run_id, skip, page_size, reverse))
        for entry in page.logs:
            yield entry
        skip = next_skip(skip, len(page.logs), page.total_logs, page_size)


class AsyncAgentRun(HandleBase):
    """A handle on one agent run (``client.agent_runs.start(...)`` / ``.attach(id)``).

    Examples:
        >>> run = client.agent_runs.start("Add a /health endpoint")  # doctest: +SKIP
        >>> run.wait(timeout=600).result  # doctest: +SKIP
    """

    def __init__(self, client: AsyncRunHost, data: AgentRunResponse) -> None:
        self._client = client
        self._hooks = client.hooks
        self._clock = client.clock
        self._data = data
        self._seen_active = not self.is_terminal
        self._reused = data.reused

    async def refresh(self) -> AsyncAgentRun:
        """Fetch the run's current state (one GET)."""
        self._update(await self._client.request(get_run(self._client.org_id, self.id)))
        return self

    async def wait(
        self,
        timeout: float | None = None,
        *,
        raise_on_failure: bool = False,
        output_schema: type[BaseModel] | None = None,
        output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
        on_tick: Callable[[], None] | None = None,
    ) -> AsyncAgentRun:
        """Wait until the run is terminal, through the client's batched watcher.

        Args:
            timeout: clock seconds to wait at most (``None``: no limit), repairs included.
            raise_on_failure: raise :class:`AgentRunFailedError` if the run ends
                ``FAILED``, ``ERROR`` or ``CANCELLED``.
            output_schema: a pydantic model the final answer must hold as a JSON object;
                the validated object lands on :attr:`output`. An invalid answer resumes
                the run with the errors (see ``docs/typed-results.md``).
            output_attempts: answers in all before giving up, the first included.
            on_tick: called after every watcher tick while this waits: a liveness
                signal, e.g. a LangGraph node's ``runtime.heartbeat``.

        Raises:
            RunTimeoutError: the timeout passed first; ``.run`` is the last state seen.
            OutputValidationError: ``output_attempts`` answers, none valid.
            ClientClosedError: the client was closed while this waited.
            ResponseValidationError: three answers in a row about this run did not match
                the API's model (the remote run goes on; see it in Codegen's web app).
        """

        async def until_end(left: float | None) -> None:
            await self._wait(left, raise_on_failure, on_tick)

        return await self._checked(until_end, timeout, output_schema, output_attempts)

    async def _checked(
        self,
        until_end: Callable[[float | None], Awaitable[None]],
        timeout: float | None,
        output_schema: type[BaseModel] | None,
        output_attempts: int,
    ) -> AsyncAgentRun:
        """Wait with ``until_end`` (given what is left of ``timeout``); with
        ``output_schema``, check the answer and repair it (resume, wait again) under the
        same deadline. ``wait()`` and ``follow()`` both end here."""
        timeout = check_timeout(timeout)
        if output_schema is None:
            await until_end(timeout)
            return self
        spec = OutputSpec(output_schema, max_attempts=output_attempts)
        clock = self._clock
        deadline = None if timeout is None else clock.now() + timeout

        async def count() -> int:
            return count_repairs(await self.logs())

        async def again(prompt: str) -> AgentRunResponse:
            await self.resume(prompt)
            await until_end(None if deadline is None else max(0.0, deadline - clock.now()))
            return self._data

        await until_end(timeout)
        attempts: list[OutputAttempt] = []
        try:
            self._output = await async_repair(spec, self._data, attempts, count=count, again=again)
        finally:
            self._output_attempts = tuple(attempts)
        return self

    async def _wait(
        self, timeout: float | None, raise_on_failure: bool, on_tick: Callable[[], None] | None
    ) -> AsyncAgentRun:
        started = self._clock.now()
        with self._hooks.waiting(self.id):
            if self._needs_wait:
                watcher = self._client.watcher
                self._update(
                    await watcher.wait_for(
                        self.id, timeout=timeout, on_tick=on_tick, known=self._data
                    )
                )
            self._report_finished(started)
            check_failure(self._data, raise_on_failure)
        return self

    async def resume(
        self, prompt: str, *, images: list[str] | None = None, idempotency_key: str | None = None
    ) -> AsyncAgentRun:
        """Send a follow-up to the agent; the run becomes active again.

        With ``idempotency_key``, at most once per key (see ``agent_runs.resume``).
        """
        run = await self._client.keyed.resume(self.id, prompt, images, idempotency_key)
        self._update(run)
        return self

    async def stop(self) -> AsyncAgentRun:
        """Stop the run: on Codegen's API that is ``ban`` (all checks of the run banned: its
        agent stops working on it, and the run reports ``STOPPED``; a run already over keeps
        its status), then read its state (one GET). Waits on it then end."""
        await self._client.request(stop_run(self._client.org_id, "ban", self.id))
        return await self.refresh()

    async def logs(self) -> list[AgentRunLogResponse]:
        """Every log entry so far, oldest first (auto-paginated)."""
        return [entry async for entry in async_iter_logs(self._client, self.id)]

    async def stream_logs(
        self,
        *,
        timeout: float | None = None,
        start: int = 0,
        on_tick: Callable[[], None] | None = None,
    ) -> AsyncIterator[AgentRunLogResponse]:
        """Yield each log entry once, as it appears, until the run is over.

        Entries added by a resume while the stream runs are yielded too. ``start`` skips
        the entries already seen (for example by a stream that ended before a resume).
        ``on_tick`` is called after each log read and each watcher tick (a liveness signal).

        Raises:
            RunTimeoutError: ``timeout`` (clock seconds) passed before the run ended.
        """
        client, clock = self._client, self._clock
        state = StreamState(start)
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else clock.now() + timeout
        watcher = client.watcher
        while True:
            queued = client.rate_budgets.next_free_at("logs") - clock.now()
            if queued > 0 and not self.is_terminal:  # many streams share the logs budget:
                with contextlib.suppress(RunTimeoutError):  # meanwhile, the run's end comes
                    until = queued if deadline is None else min(queued, deadline - clock.now())
                    self._update(await watcher.wait_for(self.id, timeout=max(0.0, until)))
            # No retries inside the read: the stream pauses itself, so its deadline holds.
            spec = run_logs(client.org_id, self.id, state.seen, LOG_PAGE, max_retries=0)
            try:
                page = await client.request(spec)
            except CodegenError as exc:
                pause = state.failed(self.id, exc, clock, client.retry)
                if isinstance(exc, RateLimitError):  # the other streams wait it out too
                    client.rate_budgets.hold(spec.bucket, clock.now() + pause)
                check_deadline(self._data, deadline, clock.now() + pause)
                await clock.asleep(pause)
                continue
            state.failures = state.malformed = 0
            self._from_logs(page)
            entries, over, pause = state.take(page)
            if on_tick is not None:
                on_tick()
            for entry in entries:
                yield entry
            left = None if deadline is None else max(0.0, deadline - clock.now())
            if over:  # the full final state (result, pull requests) before the end
                self._update(
                    await watcher.wait_for(self.id, timeout=left, on_tick=on_tick, known=self._data)
                )
                return
            check_deadline(self._data, deadline, clock.now() + pause)
            if pause > 0:  # nothing new: wait for the run's end, at most ``pause``
                with contextlib.suppress(RunTimeoutError):
                    self._update(await watcher.wait_for(self.id, timeout=pause, on_tick=on_tick))

    async def follow(
        self,
        on_log: Callable[[AgentRunLogResponse], Awaitable[Any] | Any],
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        start: int = 0,
        on_tick: Callable[[], None] | None = None,
        output_schema: type[BaseModel] | None = None,
        output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
    ) -> AsyncAgentRun:
        """Wait for the run while handing each new log entry to ``on_log``, in order
        (``on_log`` may be a coroutine function). ``start`` skips the first entries
        (delivered before, e.g. before a resume); ``on_tick`` as in :meth:`stream_logs`;
        ``output_schema`` and ``output_attempts`` as in :meth:`wait`: the repairs' entries
        are handed to ``on_log`` too, and ``timeout`` covers them.

        Returns once the run is terminal and its last entries were delivered; the handle
        then holds the full final state (result, summary, pull requests).
        """
        seen = start

        async def until_end(left: float | None) -> None:
            nonlocal seen
            started = self._clock.now()
            with self._hooks.waiting(self.id):
                async for entry in self.stream_logs(timeout=left, start=seen, on_tick=on_tick):
                    seen += 1
                    await async_resolve(on_log(entry))
                self._report_finished(started)
                check_failure(self._data, raise_on_failure)

        return await self._checked(until_end, timeout, output_schema, output_attempts)
