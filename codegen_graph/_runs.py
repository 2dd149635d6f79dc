"""Run handles: an agent run you can wait on, stream, and resume.

``AgentRun`` (sync) and ``AsyncAgentRun`` wrap the latest :class:`AgentRunResponse` of one
run and the client that made it. Waiting goes through the client's one batched watcher, so a
thousand waiting handles cost the API what one does. Log streaming reads the alpha logs
endpoint incrementally (``skip`` = entries already seen), so each entry is yielded exactly
once, in order, across resumes, and ends after the run is terminal and its last entries are
read.

A handle is *complete* when its state came from a full run model (a create, a GET, a list
page); a status learned from a logs page is not (that page has no pull requests). A stream
that saw the run end, and a ``wait()`` on a handle that is not complete, fetch the full
final state through the watcher before they return, so ``result`` and the pull requests are
set whenever ``is_terminal`` is. A stream treats a transient failure of its logs read as
the watcher does a failed poll: it pauses (backoff, ``Retry-After``, the circuit's
half-open time) and reads again, until its own deadline.

The decision logic (what to fetch next, when a stream is over, what a failed run raises) is
written once in module functions; the two handle classes only do the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ._exceptions import AgentRunFailedError, CodegenError, RunTimeoutError
from ._output import DEFAULT_OUTPUT_ATTEMPTS, OutputAttempt, OutputSpec, count_repairs, repair_plan
from ._retry import pause_for
from ._status import AgentRunStatus
from ._watcher import run_timeout_error
from .models import AgentRunLogResponse, AgentRunResponse, AgentRunWithLogsResponse

if TYPE_CHECKING:
    from ._client import AsyncCodegenClient, CodegenClient

__all__ = ["AgentRun", "AsyncAgentRun"]

#: Simulated seconds between two log fetches of one stream when nothing new arrived. The
#: logs budget (60 per 60 s) is shared by every stream of a client; the client's rate budget
#: spaces the requests further when many streams run at once.
LOG_POLL_INTERVAL = 1.25
_LOG_PAGE = 100

log = logging.getLogger("codegen_graph.runs")
_random = random.Random()


def _check_failure(run: AgentRunResponse, raise_on_failure: bool) -> None:
    if raise_on_failure and run.status is not None and run.status.is_failure:
        raise AgentRunFailedError(
            f"agent run {run.id} ended {run.status.raw}"
            + (f": {run.result}" if run.result else "")
            + (f" (see {run.web_url})" if run.web_url else ""),
            run=run,
        )


def _check_deadline(run: AgentRunResponse, deadline: float | None, next_read: float) -> None:
    if deadline is not None and next_read > deadline:
        raise run_timeout_error(run.id, run)


class _StreamState:
    """Bookkeeping for one log stream: entries yielded so far, and when to stop."""

    def __init__(self, start: int = 0) -> None:
        if start < 0:
            raise ValueError("start must be >= 0")
        self.seen = start
        self.terminal_seen = False
        self.failures = 0  # consecutive failed reads

    def failed(self, exc: CodegenError, client: CodegenClient | AsyncCodegenClient) -> float:
        """A read failed: how long to pause before reading again (re-raises what a pause
        cannot fix: an error about the run, the token, or the request)."""
        if not exc.is_transient or isinstance(exc, RunTimeoutError):
            raise exc
        self.failures += 1
        now = client.clock.now()
        pause = pause_for(exc, self.failures, client.retry, now=now, rand=_random.random)
        log.info("log stream: read failed (%s); reading again in %.1fs", exc, pause)
        return pause

    def take(self, page: AgentRunWithLogsResponse) -> tuple[list[AgentRunLogResponse], bool, float]:
        """New entries of a page, whether the stream is over, and how long to pause."""
        entries = list(page.logs)
        self.seen += len(entries)
        if len(entries) >= _LOG_PAGE:
            return entries, False, 0.0  # more are waiting: fetch again at once
        if page.status is None or not page.status.is_terminal:
            self.terminal_seen = False  # e.g. resumed while we streamed
            return entries, False, LOG_POLL_INTERVAL
        if entries or not self.terminal_seen:
            # Terminal: read once more at once, in case entries landed after the status.
            self.terminal_seen = True
            return entries, False, 0.0
        return entries, True, 0.0


class HandleBase:
    """What the sync and async handles share (not exported: use AgentRun/AsyncAgentRun)."""

    _data: AgentRunResponse
    _client: CodegenClient | AsyncCodegenClient
    # Whether this handle saw the run active since it last reported a finish: plugins'
    # on_complete and the metrics hear about each finish once, and not for a handle
    # attached to a run that had already ended.
    _seen_active: bool = False
    # Whether _data is a full run model (False after a logs page set the status).
    _complete: bool = True
    _reused: bool = False
    _output: BaseModel | None = None
    _output_attempts: tuple[OutputAttempt, ...] = ()

    @property
    def output(self) -> Any:
        """The validated ``output_schema`` object of the last wait that asked for one."""
        return self._output

    @property
    def output_attempts(self) -> tuple[OutputAttempt, ...]:
        """The invalid answers that wait saw before (or instead of) a valid one."""
        return self._output_attempts

    def _report_finished(self, started: float) -> None:
        if self._seen_active and self.is_terminal:
            self._seen_active = False
            self._client._hooks.run_finished(self._data, self._client.clock.now() - started)

    @property
    def data(self) -> AgentRunResponse:
        """The latest wire model of this run."""
        return self._data

    @property
    def reused(self) -> bool:
        """``True`` when a keyed ``start`` attached to the run its key already had."""
        return self._reused

    @property
    def id(self) -> int:
        return self._data.id

    @property
    def status(self) -> AgentRunStatus | None:
        return self._data.status

    @property
    def is_terminal(self) -> bool:
        return self._data.status is not None and self._data.status.is_terminal

    @property
    def is_success(self) -> bool:
        return self._data.status is not None and self._data.status.is_success

    @property
    def result(self) -> str | None:
        return self._data.result

    @property
    def summary(self) -> str | None:
        return self._data.summary

    @property
    def web_url(self) -> str | None:
        return self._data.web_url

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._data.metadata or {})

    @property
    def pull_requests(self) -> list[Any]:
        """The run's pull requests (``GithubPullRequestResponse`` models)."""
        return list(self._data.github_pull_requests or [])

    @property
    def pr_urls(self) -> list[str]:
        """The URLs of the run's pull requests (:attr:`AgentRunResponse.pr_urls`)."""
        return self._data.pr_urls

    def _update(self, data: AgentRunResponse) -> None:
        if data.id != self._data.id:
            raise ValueError(f"run {data.id} is not run {self._data.id}")
        self._data = data
        self._complete = True
        if not self.is_terminal:
            self._seen_active = True

    def _from_logs(self, page: AgentRunWithLogsResponse) -> None:
        """Take the status a logs page reported; the handle is then not complete."""
        update: dict[str, Any] = {"status": page.status}
        if page.result is not None:
            update["result"] = page.result
        self._data = self._data.model_copy(update=update)
        self._complete = False
        if not self.is_terminal:
            self._seen_active = True

    @property
    def _needs_wait(self) -> bool:
        return not self.is_terminal or not self._complete

    def __repr__(self) -> str:
        status = self._data.status.raw if self._data.status is not None else None
        return f"{type(self).__name__}(id={self.id}, status={status!r})"


class AgentRun(HandleBase):
    """A handle on one agent run, for :class:`~codegen_graph.CodegenClient`.

    Example:
        >>> run = client.agent_runs.start("Add a /health endpoint")  # doctest: +SKIP
        >>> run.wait(timeout=600).result  # doctest: +SKIP
    """

    def __init__(self, client: CodegenClient, data: AgentRunResponse) -> None:
        self._client: CodegenClient = client
        self._data = data
        self._seen_active = not self.is_terminal
        self._reused = data.reused

    def refresh(self) -> AgentRun:
        """Fetch the run's current state (one GET)."""
        self._update(self._client.agent_runs.get(self.id))
        return self

    def wait(
        self,
        timeout: float | None = None,
        *,
        raise_on_failure: bool = False,
        output_schema: type[BaseModel] | None = None,
        output_attempts: int = DEFAULT_OUTPUT_ATTEMPTS,
        on_tick: Callable[[], None] | None = None,
    ) -> AgentRun:
        """Block until the run is terminal, through the client's batched watcher.

        Args:
            timeout: clock seconds to wait at most (``None``: no limit), repairs included.
            raise_on_failure: raise :class:`AgentRunFailedError` if the run ends
                ``FAILED``, ``ERROR`` or ``CANCELLED``.
            output_schema: a pydantic model the final answer must hold as a JSON object;
                the validated object lands on :attr:`output`. An invalid answer resumes
                the run with the errors (see :mod:`codegen_graph._output`).
            output_attempts: answers in all before giving up, the first included.
            on_tick: called after every watcher tick while this waits (from the watcher's
                thread): a liveness signal, e.g. a LangGraph node's ``runtime.heartbeat``.

        Raises:
            RunTimeoutError: the timeout passed first; ``.run`` is the last state seen.
            OutputValidationError: ``output_attempts`` answers, none valid.
        """
        if output_schema is not None:
            spec = OutputSpec(output_schema, max_attempts=output_attempts)
            return self._wait_for_output(spec, timeout, raise_on_failure, on_tick)
        started = self._client.clock.now()
        with self._client._hooks.waiting(self.id):
            if self._needs_wait:
                watcher = self._client.watcher
                self._update(watcher.wait_for(self.id, timeout=timeout, on_tick=on_tick))
            self._report_finished(started)
            _check_failure(self._data, raise_on_failure)
        return self

    def _wait_for_output(
        self,
        spec: OutputSpec[Any],
        timeout: float | None,
        raise_on_failure: bool,
        on_tick: Callable[[], None] | None,
    ) -> AgentRun:
        clock = self._client.clock
        deadline = None if timeout is None else clock.now() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - clock.now())

        self.wait(timeout, raise_on_failure=raise_on_failure, on_tick=on_tick)
        attempts: list[OutputAttempt] = []
        plan = repair_plan(spec, self._data, attempts)
        try:
            answer: Any = None
            while True:
                kind, prompt = plan.send(answer)
                if kind == "count":
                    answer = count_repairs(self._client.agent_runs.iter_logs(self.id))
                else:
                    self.resume(prompt or "")
                    self.wait(left(), raise_on_failure=raise_on_failure, on_tick=on_tick)
                    answer = self._data
        except StopIteration as done:
            self._output = done.value
        finally:
            self._output_attempts = tuple(attempts)
        return self

    def resume(
        self, prompt: str, *, images: list[str] | None = None, idempotency_key: str | None = None
    ) -> AgentRun:
        """Send a follow-up to the agent; the run becomes active again.

        With ``idempotency_key``, at most once per key (see ``agent_runs.resume``).
        """
        self._update(
            self._client.agent_runs.resume(
                self.id, prompt, images=images, idempotency_key=idempotency_key
            )
        )
        return self

    def logs(self) -> list[AgentRunLogResponse]:
        """Every log entry so far, oldest first (auto-paginated)."""
        return list(self._client.agent_runs.iter_logs(self.id))

    def stream_logs(
        self,
        *,
        timeout: float | None = None,
        start: int = 0,
        on_tick: Callable[[], None] | None = None,
    ) -> Iterator[AgentRunLogResponse]:
        """Yield each log entry once, as it appears, until the run is over.

        Entries added by a resume while the stream runs are yielded too. ``start`` skips
        the entries already seen (for example by a stream that ended before a resume).
        ``on_tick`` is called after each log read (a liveness signal).

        Raises:
            RunTimeoutError: ``timeout`` (clock seconds) passed before the run ended.
        """
        state, clock = _StreamState(start), self._client.clock
        deadline = None if timeout is None else clock.now() + timeout
        while True:
            try:
                page = self._client.agent_runs.logs(self.id, skip=state.seen, limit=_LOG_PAGE)
            except CodegenError as exc:
                pause = state.failed(exc, self._client)
                _check_deadline(self._data, deadline, clock.now() + pause)
                clock.sleep(pause)
                continue
            state.failures = 0
            self._from_logs(page)
            entries, over, pause = state.take(page)
            if on_tick is not None:
                on_tick()
            yield from entries
            if over:
                # The full final state (result, pull requests) before the stream ends.
                left = None if deadline is None else max(0.0, deadline - clock.now())
                self._update(self._client.watcher.wait_for(self.id, timeout=left))
                return
            _check_deadline(self._data, deadline, clock.now() + pause)
            clock.sleep(pause)

    def follow(
        self,
        on_log: Callable[[AgentRunLogResponse], Any],
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        start: int = 0,
        on_tick: Callable[[], None] | None = None,
    ) -> AgentRun:
        """Wait for the run while handing each new log entry to ``on_log``, in order.

        ``start`` skips the first entries (already delivered before, e.g. before a resume).
        ``on_tick`` is called after each log read while it waits (a liveness signal).

        Returns once the run is terminal and its last entries were delivered; the handle
        then holds the full final state (result, summary, pull requests).
        """
        started = self._client.clock.now()
        with self._client._hooks.waiting(self.id):
            for entry in self.stream_logs(timeout=timeout, start=start, on_tick=on_tick):
                on_log(entry)
            self._report_finished(started)
            _check_failure(self._data, raise_on_failure)
        return self


class AsyncAgentRun(HandleBase):
    """A handle on one agent run, for :class:`~codegen_graph.AsyncCodegenClient`."""

    def __init__(self, client: AsyncCodegenClient, data: AgentRunResponse) -> None:
        self._client: AsyncCodegenClient = client
        self._data = data
        self._seen_active = not self.is_terminal
        self._reused = data.reused

    async def refresh(self) -> AsyncAgentRun:
        """Fetch the run's current state (one GET)."""
        self._update(await self._client.agent_runs.get(self.id))
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
        """Wait until the run is terminal; see :meth:`AgentRun.wait`."""
        if output_schema is not None:
            spec = OutputSpec(output_schema, max_attempts=output_attempts)
            return await self._wait_for_output(spec, timeout, raise_on_failure, on_tick)
        started = self._client.clock.now()
        with self._client._hooks.waiting(self.id):
            if self._needs_wait:
                watcher = self._client.watcher
                self._update(await watcher.wait_for(self.id, timeout=timeout, on_tick=on_tick))
            self._report_finished(started)
            _check_failure(self._data, raise_on_failure)
        return self

    async def _wait_for_output(
        self,
        spec: OutputSpec[Any],
        timeout: float | None,
        raise_on_failure: bool,
        on_tick: Callable[[], None] | None,
    ) -> AsyncAgentRun:
        clock = self._client.clock
        deadline = None if timeout is None else clock.now() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - clock.now())

        await self.wait(timeout, raise_on_failure=raise_on_failure, on_tick=on_tick)
        attempts: list[OutputAttempt] = []
        plan = repair_plan(spec, self._data, attempts)
        try:
            answer: Any = None
            while True:
                await spec.aprepare(self._data)  # a long answer is parsed off the loop
                kind, prompt = plan.send(answer)
                if kind == "count":
                    answer = count_repairs(await self.logs())
                else:
                    await self.resume(prompt or "")
                    await self.wait(left(), raise_on_failure=raise_on_failure, on_tick=on_tick)
                    answer = self._data
        except StopIteration as done:
            self._output = done.value
        finally:
            self._output_attempts = tuple(attempts)
        return self

    async def resume(
        self, prompt: str, *, images: list[str] | None = None, idempotency_key: str | None = None
    ) -> AsyncAgentRun:
        """Send a follow-up to the agent; the run becomes active again (see the sync twin)."""
        self._update(
            await self._client.agent_runs.resume(
                self.id, prompt, images=images, idempotency_key=idempotency_key
            )
        )
        return self

    async def logs(self) -> list[AgentRunLogResponse]:
        """Every log entry so far, oldest first (auto-paginated)."""
        return [entry async for entry in self._client.agent_runs.iter_logs(self.id)]

    async def stream_logs(
        self, *, timeout: float | None = None, start: int = 0
    ) -> AsyncIterator[AgentRunLogResponse]:
        """Yield each log entry once, as it appears, until the run is over.

        ``start`` skips the entries already seen; see :meth:`AgentRun.stream_logs`.

        Raises:
            RunTimeoutError: ``timeout`` (clock seconds) passed before the run ended.
        """
        state, clock = _StreamState(start), self._client.clock
        deadline = None if timeout is None else clock.now() + timeout
        while True:
            try:
                page = await self._client.agent_runs.logs(self.id, skip=state.seen, limit=_LOG_PAGE)
            except CodegenError as exc:
                pause = state.failed(exc, self._client)
                _check_deadline(self._data, deadline, clock.now() + pause)
                await clock.asleep(pause)
                continue
            state.failures = 0
            self._from_logs(page)
            entries, over, pause = state.take(page)
            for entry in entries:
                yield entry
            if over:
                # The full final state (result, pull requests) before the stream ends.
                left = None if deadline is None else max(0.0, deadline - clock.now())
                self._update(await self._client.watcher.wait_for(self.id, timeout=left))
                return
            _check_deadline(self._data, deadline, clock.now() + pause)
            await clock.asleep(pause)

    async def follow(
        self,
        on_log: Callable[[AgentRunLogResponse], Awaitable[Any] | Any],
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        start: int = 0,
        on_tick: Callable[[], None] | None = None,
    ) -> AsyncAgentRun:
        """Wait through the watcher while handing each new log entry to ``on_log``, in order.

        Completion is detected by the batched watcher; the log stream runs beside it and is
        drained once the run is terminal. ``on_log`` may be a coroutine function;
        ``on_tick`` is called after every watcher tick while it waits.
        """
        stream = self.stream_logs(start=start, timeout=timeout)
        started = self._client.clock.now()

        async def pump() -> None:
            async for entry in stream:
                outcome = on_log(entry)
                if asyncio.iscoroutine(outcome):
                    await outcome

        waiting = asyncio.ensure_future(self.wait(timeout=timeout, on_tick=on_tick))
        pumping = asyncio.ensure_future(pump())
        try:
            # A failing on_log (or stream) surfaces at once, not when the run ends.
            await asyncio.wait({waiting, pumping}, return_when=asyncio.FIRST_EXCEPTION)
            if pumping.done():
                pumping.result()  # re-raise its error now, whatever the wait still does
            await waiting
            # Terminal: the stream ends by itself after reading the last entries, with the
            # handle complete (the final state came through the watcher).
            await pumping
        finally:
            for task in (waiting, pumping):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        self._report_finished(started)
        _check_failure(self._data, raise_on_failure)
        return self
