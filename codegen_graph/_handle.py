"""What the sync and async run handles share: their state and decisions, without I/O.

A handle wraps the latest :class:`~codegen_graph.models.AgentRunResponse` of one run. It is
*complete* when that state came from a full run model (a create, a GET, a list page); a
status learned from a logs page is not (that page has no pull requests), so a stream that
saw the run end, and a ``wait()`` on a handle that is not complete, fetch the full final
state through the watcher before they return. A log stream yields each entry exactly once,
in order, across resumes (``skip`` = entries already seen), and treats a failed read as the
watcher does a failed poll: it pauses (backoff, ``Retry-After``, the circuit's half-open
time) and reads again, until its own deadline.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ._exceptions import (
    AgentRunFailedError,
    CodegenError,
    ResponseValidationError,
    RunTimeoutError,
)
from ._output import OutputAttempt
from ._retry import pause_for
from ._status import AgentRunStatus
from ._watch import MALFORMED_READS, ends_waits, run_timeout_error, unreadable_run_error
from .models import AgentRunLogResponse, AgentRunResponse, AgentRunWithLogsResponse

if TYPE_CHECKING:
    from ._config import RetryConfig
    from ._hooks import ClientHooks
    from .clock import Clock

__all__ = [
    "LOG_PAGE",
    "LOG_POLL_INTERVAL",
    "HandleBase",
    "StreamState",
    "check_deadline",
    "check_failure",
]

#: Simulated seconds between two log fetches of one stream when nothing new arrived. The
#: logs budget (60 per 60 s) is shared by every stream of a client; the client's rate budget
#: spaces the requests further when many streams run at once.
LOG_POLL_INTERVAL = 1.25
LOG_PAGE = 100

log = logging.getLogger("codegen_graph.runs")
_random = random.Random()


def check_failure(run: AgentRunResponse, raise_on_failure: bool) -> None:
    if raise_on_failure and run.status is not None and run.status.is_failure:
        raise AgentRunFailedError(
            f"agent run {run.id} ended {run.status.raw}"
            + (f": {run.result}" if run.result else "")
            + (f" (see {run.web_url})" if run.web_url else ""),
            run=run,
        )


def check_deadline(run: AgentRunResponse, deadline: float | None, next_read: float) -> None:
    if deadline is not None and next_read > deadline:
        raise run_timeout_error(run.id, run)


class StreamState:
    """Bookkeeping for one log stream: entries yielded so far, and when to stop."""

    def __init__(self, start: int = 0) -> None:
        if start < 0:
            raise ValueError("start must be >= 0")
        self.seen = start
        self.terminal_seen = False
        self.failures = 0  # consecutive failed reads
        self.malformed = 0  # pages in a row that did not match the model

    def failed(self, run_id: int, exc: CodegenError, clock: Clock, retry: RetryConfig) -> float:
        """A read failed: how long to pause before reading again (re-raises what a pause
        cannot fix: an error about the run, the token, or the request). A malformed page
        is forgiven as a wait forgives one: up to :data:`MALFORMED_READS` in a row."""
        if isinstance(exc, ResponseValidationError):
            self.malformed += 1
            if self.malformed >= MALFORMED_READS:
                raise unreadable_run_error(run_id, self.malformed, exc)
        elif ends_waits(exc) or isinstance(exc, RunTimeoutError):
            raise exc
        self.failures += 1
        now = clock.now()
        pause = pause_for(exc, self.failures, retry, now=now, rand=_random.random)
        log.info("log stream: read failed (%s); reading again in %.1fs", exc, pause)
        return pause

    def take(self, page: AgentRunWithLogsResponse) -> tuple[list[AgentRunLogResponse], bool, float]:
        """New entries of a page, whether the stream is over, and how long to pause."""
        entries = list(page.logs)
        self.seen += len(entries)
        if len(entries) >= LOG_PAGE:
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
    _hooks: ClientHooks
    _clock: Clock
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
            self._hooks.run_finished(self._data, self._clock.now() - started)

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
