"""Typed results: check a finished run's answer and repair it by resuming, as one loop.

The decisions (parsing, the repair prompt, the errors) are in :mod:`codegen_graph._output`;
this loop is shared by the run handles and the graph nodes, which only say how to count
the repairs already in the run's log and how to resume and wait (a node traces and streams
its waits). A long answer is parsed in slices, and the event loop runs between them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .._concurrency import async_drain
from .._output import OutputAttempt, OutputSpec, exhausted
from ..models import AgentRunResponse

__all__ = ["async_repair"]


async def async_repair(
    spec: OutputSpec[Any],
    run: AgentRunResponse,
    attempts: list[OutputAttempt],
    *,
    count: Callable[[], Awaitable[int]],
    again: Callable[[str], Awaitable[AgentRunResponse]],
) -> Any:
    """The validated object of ``run``'s answer, repairing it by resuming until it validates.

    ``count()`` reads how many repairs the run already received (asked once, on the first
    invalid answer: a wait re-executed after a crash neither repeats a repair nor exceeds
    ``max_attempts``); ``again(prompt)`` resumes the run and waits for it. Returns ``None``
    when the run did not end ``COMPLETE``; every invalid answer is appended to ``attempts``.

    Raises:
        OutputValidationError: the last allowed answer did not validate.
    """
    sent: int | None = None
    while run.status is not None and run.status.is_success:
        number = 1 if sent is None else sent + 1
        output, attempt = await async_drain(spec.check_steps(run, number))
        if output is not None:
            return output
        if sent is None:
            sent = await count()
            attempt = OutputAttempt(sent + 1, *attempt.fields)
        attempts.append(attempt)
        if sent + 1 >= spec.max_attempts:
            raise exhausted(spec, run, attempts)
        run = await again(spec.repair_prompt(sent + 2, attempt.errors))
        sent += 1
    return None
