from __future__ import annotations

from collections.abc import Iterator

import pytest

from codegen_graph.clock import ManualClock
from codegen_graph.local import AgentBehavior, LocalCodegen, Outcome, RunContext, Step


class TimedBehavior:
    """Runs whose duration and outcome the test decides, keyed by prompt.

    ``durations`` maps a prompt to simulated seconds (default 60); a prompt containing
    "fail" ends FAILED. Each segment writes a plan, two actions and the final answer.
    """

    def __init__(self, durations: dict[str, float] | None = None) -> None:
        self.durations = durations or {}

    def plan(self, ctx: RunContext) -> Outcome:
        failed = "fail" in ctx.prompt
        return Outcome(
            status="FAILED" if failed else "COMPLETE",
            result=f"{'failed' if failed else 'done'}: {ctx.prompt} (segment {ctx.segment})",
            summary=f"summary of segment {ctx.segment}",
            steps=(
                Step("PLAN_EVALUATION", thought=f"plan {ctx.segment}"),
                Step("ACTION", tool_name="edit", tool_input={"n": 1}, tool_output={"ok": True}),
                Step("ACTION", tool_name="run", tool_input={"n": 2}, tool_output={"ok": True}),
            ),
            duration=self.durations.get(ctx.prompt, 60.0),
        )


_: type[AgentBehavior] = TimedBehavior  # it satisfies the protocol


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def behavior() -> TimedBehavior:
    return TimedBehavior()


@pytest.fixture
def local(clock: ManualClock, behavior: TimedBehavior) -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=clock, behavior=behavior) as backend:
        yield backend
