from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
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


Rule = Callable[[httpx.Request], "httpx.Response | None"]


class FaultyTransport(httpx.BaseTransport):
    """The local backend's transport with a rule in front: the rule's response (a fault)
    replaces the backend's, ``None`` lets the request through. Every request is logged."""

    def __init__(self, inner: httpx.BaseTransport, rule: Rule, clock: ManualClock) -> None:
        self.inner, self.rule, self.clock = inner, rule, clock
        self.log: list[tuple[float, str, str]] = []  # (time, method, path)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((self.clock.now(), request.method, request.url.path))
        fault = self.rule(request)
        return fault if fault is not None else self.inner.handle_request(request)


class AsyncFaultyTransport(httpx.AsyncBaseTransport):
    """:class:`FaultyTransport` for the async client."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rule: Rule, clock: ManualClock) -> None:
        self.inner, self.rule, self.clock = inner, rule, clock
        self.log: list[tuple[float, str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((self.clock.now(), request.method, request.url.path))
        fault = self.rule(request)
        return fault if fault is not None else await self.inner.handle_async_request(request)


def is_poll(request: httpx.Request) -> bool:
    """A status read of the watcher: the run list or one run."""
    return (
        request.method == "GET"
        and "/agent/run" in request.url.path
        and "/alpha/" not in (request.url.path)
    )


class FleetAPI:
    """A fake Codegen cloud for fleets too big to create one by one on the local backend:
    ``GET /agent/runs`` (newest first) and ``GET /agent/run/{id}`` of runs added directly,
    each ``ACTIVE`` until its finish time on the clock, then ``COMPLETE``. Requests are
    logged as ``(time, path, skip)``."""

    def __init__(self, clock: ManualClock, org_id: int = 1) -> None:
        self.clock, self.org_id = clock, org_id
        self.finish: dict[int, float] = {}
        self.log: list[tuple[float, str, int]] = []  # (time, path, skip)

    def add(self, finish_at: float) -> int:
        run_id = len(self.finish) + 1
        self.finish[run_id] = finish_at
        return run_id

    def run(self, run_id: int) -> dict[str, object]:
        done = self.clock.now() >= self.finish[run_id]
        return {
            "id": run_id,
            "organization_id": self.org_id,
            "status": "COMPLETE" if done else "ACTIVE",
            "result": f"result {run_id}" if done else None,
            "created_at": "2026-01-01T00:00:00+00:00",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append((self.clock.now(), path, int(request.url.params.get("skip", -1))))
        if path.endswith("/agent/runs"):
            skip, limit = int(request.url.params["skip"]), int(request.url.params["limit"])
            ids = sorted(self.finish, reverse=True)
            items = [self.run(i) for i in ids[skip : skip + limit]]
            pages = -(-len(ids) // limit)
            return httpx.Response(
                200,
                json={
                    "items": items,
                    "total": len(ids),
                    "page": skip // limit + 1,
                    "size": limit,
                    "pages": pages,
                },
            )
        run_id = int(path.rsplit("/", 1)[-1])
        if run_id not in self.finish:
            return httpx.Response(404, json={"message": "Agent run not found."})
        return httpx.Response(200, json=self.run(run_id))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)
