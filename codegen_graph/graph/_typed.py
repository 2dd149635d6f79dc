"""Typed results in the graph nodes: check the finished run's answer, repair it by resuming.

The decisions live once in :func:`codegen_graph._output.repair_plan`; this module drives
them from a node: each repair is traced as ``codegen.resume`` and then waited for the way
the node waits (``follow``: the node's traced, streamed, heartbeating wait), and the
validated object is put into the node's state update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from pydantic import BaseModel

from .._output import OutputAttempt, OutputSpec, answers_used, count_repairs, repair_plan
from .._runs import AgentRun, AsyncAgentRun
from ..clock import Clock
from ..models import AgentRunResponse
from ..observability import trace_operation
from ._observe import OutputFilters

__all__ = [
    "TypedContext",
    "TypedResult",
    "atyped_wait",
    "deadline_after",
    "output_spec",
    "typed_wait",
    "with_output",
]

#: ``(handle, role, key, timeout, filters, start) -> (run, logs seen)``: the node's wait.
Follow = Callable[
    [AgentRun, str, str, float | None, OutputFilters, int], tuple[AgentRunResponse, int]
]
AsyncFollow = Callable[
    [AsyncAgentRun, str, str, float | None, OutputFilters, int],
    Awaitable[tuple[AgentRunResponse, int]],
]


class TypedContext(NamedTuple):
    """Who waits: the role, the ``runs`` key, the output filters and the client's clock."""

    role: str
    key: str
    filters: OutputFilters
    clock: Clock


class TypedResult(NamedTuple):
    """A finished run after its answer was checked: the object and which answer it was."""

    run: AgentRunResponse
    seen: int
    output: BaseModel | None
    answers: int


def output_spec(schema: type[BaseModel] | None, attempts: int) -> OutputSpec[Any] | None:
    """The node's :class:`OutputSpec`, or ``None`` without a schema (checked at build time)."""
    return None if schema is None else OutputSpec(schema, max_attempts=attempts)


def deadline_after(timeout: float | None, clock: Clock) -> float | None:
    """The clock time a wait of ``timeout`` seconds (repairs included) must end by."""
    return None if timeout is None else clock.now() + timeout


def _left(deadline: float | None, clock: Clock) -> float | None:
    return None if deadline is None else max(0.0, deadline - clock.now())


def _repair_trace(run_id: int, role: str, prompt: str) -> trace_operation:
    inputs = {"agent_run_id": run_id, "prompt": prompt, "reason": "output_schema"}
    return trace_operation("codegen.resume", inputs=inputs, role=role)


def typed_wait(
    handle: AgentRun,
    spec: OutputSpec[Any],
    done: tuple[AgentRunResponse, int],
    ctx: TypedContext,
    deadline: float | None,
    follow: Follow,
) -> TypedResult:
    """Check the run's answer; resume it with the errors until it validates (sync).

    ``done`` is the run and log count the node's first wait returned.
    """
    run, seen = done
    attempts: list[OutputAttempt] = []
    plan = repair_plan(spec, run, attempts)
    answer: Any = None
    try:
        while True:
            kind, prompt = plan.send(answer)
            if kind == "count":
                answer = count_repairs(handle.logs())
                continue
            with _repair_trace(handle.id, ctx.role, prompt or "") as op:
                handle.resume(prompt or "")
                op.record_run(handle.data)
            left = _left(deadline, ctx.clock)
            run, seen = follow(handle, ctx.role, ctx.key, left, ctx.filters, seen)
            answer = run
    except StopIteration as stop:
        return TypedResult(run, seen, stop.value, answers_used(attempts))


async def atyped_wait(
    handle: AsyncAgentRun,
    spec: OutputSpec[Any],
    done: tuple[AgentRunResponse, int],
    ctx: TypedContext,
    deadline: float | None,
    follow: AsyncFollow,
) -> TypedResult:
    """:func:`typed_wait` for async handles."""
    run, seen = done
    attempts: list[OutputAttempt] = []
    plan = repair_plan(spec, run, attempts)
    answer: Any = None
    try:
        while True:
            await spec.aprepare(run)  # a long answer is parsed off the loop
            kind, prompt = plan.send(answer)
            if kind == "count":
                answer = count_repairs(await handle.logs())
                continue
            async with _repair_trace(handle.id, ctx.role, prompt or "") as op:
                await handle.resume(prompt or "")
                op.record_run(handle.data)
            left = _left(deadline, ctx.clock)
            run, seen = await follow(handle, ctx.role, ctx.key, left, ctx.filters, seen)
            answer = run
    except StopIteration as stop:
        return TypedResult(run, seen, stop.value, answers_used(attempts))


def with_output(update: dict[str, Any], key: str, role: str, typed: TypedResult | None) -> Any:
    """Put the validated object in ``runs[key]["output"]`` and ``artifacts[role]["output"]``
    (JSON-safe, so checkpoints keep it), and which answer it was in ``output_attempts``."""
    if typed is None:
        return update
    data = typed.output.model_dump(mode="json") if typed.output is not None else None
    update["runs"][key]["output"] = data
    update["runs"][key]["output_attempts"] = typed.answers
    if role in update.get("artifacts", {}):
        update["artifacts"][role]["output"] = data
    return update
