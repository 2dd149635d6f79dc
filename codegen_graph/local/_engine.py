"""The run engine: lazy, deterministic timelines read through a clock.

When a run starts or resumes, its behaviour decides the whole outcome at once and the engine
writes a timeline of timestamped events (status changes, log entries, the final answer).
Reading a run folds the events whose time has come (``at <= clock.now()``), so a
:class:`~codegen_graph.clock.ManualClock` or :class:`~codegen_graph.clock.ScaledClock` drives
every run and there are no background tasks to race with. Resuming or stopping a run drops
the events still in its future, then writes the new segment.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..clock import Clock
from ._behavior import AgentBehavior, Outcome, RunContext, Step
from ._store import Store

__all__ = ["Engine", "iso"]

TERMINAL = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})


def iso(ts: float) -> str:
    """An epoch time as the ISO 8601 UTC timestamp the API reports."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _log(run_id: int, at: float, step: Step) -> dict[str, Any]:
    return {
        "at": at,
        "kind": "log",
        "log": {
            "agent_run_id": run_id,
            "message_type": step.message_type,
            "thought": step.thought,
            "tool_name": step.tool_name,
            "tool_input": step.tool_input,
            "tool_output": step.tool_output,
            "observation": step.observation,
        },
    }


class Engine:
    """Creates, resumes, stops and reads runs.

    Args:
        store: where runs live.
        clock: the time source (simulated seconds).
        behavior: decides each segment's outcome.
        base_url: used to build ``web_url`` (``<base_url>/agent/trace/<id>``) and PR URLs.
        pending_seconds: how long a new run stays ``PENDING`` (capped at a quarter of
            its duration).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        behavior: AgentBehavior,
        *,
        base_url: str = "http://localhost",
        pending_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.behavior = behavior
        self.base_url = base_url.rstrip("/")
        self.pending_seconds = pending_seconds

    # -- writing ------------------------------------------------------------------------
    def create(
        self,
        *,
        org_id: int,
        user_id: int,
        prompt: str,
        metadata: dict[str, Any] | None = None,
        repo_id: int | None = None,
        model: str | None = None,
        agent_type: str | None = None,
        images: list[str] | None = None,
        source_type: str = "API",
        outcome: Outcome | None = None,
    ) -> dict[str, Any]:
        """Create a run, plan its first segment (unless ``outcome`` is given: the routes that
        start a fixed task) and return it as the API shows it now."""
        now = self.clock.now()
        run: dict[str, Any] = {
            "org_id": org_id,
            "user_id": user_id,
            "created_at": now,
            "source_type": source_type,
            "metadata": metadata,
            "repo_id": repo_id,
            "model": model,
            "agent_type": agent_type,
            "images": len(images or []),
            "prompts": [prompt],
            "events": [{"at": now, "kind": "status", "status": "PENDING"}],
        }
        self.store.insert_run(run)
        outcome = outcome or self._plan(run)
        start = now + min(self.pending_seconds, outcome.duration / 4)
        run["events"].append({"at": start, "kind": "status", "status": "ACTIVE"})
        self._lay_out(run, outcome, start, now + outcome.duration)
        self.store.save_run(run, now)
        return self.view(run, now)

    def resume(self, run: dict[str, Any], prompt: str) -> dict[str, Any]:
        """Append a ``USER_MESSAGE``, return the run to ``ACTIVE`` and finish it again."""
        now = self.clock.now()
        self._truncate(run, now)
        run["prompts"].append(prompt)
        run["events"].append(
            _log(run["id"], now, Step("USER_MESSAGE", thought=prompt, observation=prompt))
        )
        run["events"].append({"at": now, "kind": "status", "status": "ACTIVE"})
        outcome = self._plan(run)
        self._lay_out(run, outcome, now, now + outcome.duration)
        self.store.save_run(run, now)
        return self.view(run, now)

    def stop(self, run: dict[str, Any], reason: str) -> None:
        """Stop a run that is still going (ban): it ends ``STOPPED`` now."""
        now = self.clock.now()
        if self.status(run, now) in TERMINAL:
            return
        self._truncate(run, now)
        run["events"].append(_log(run["id"], now, Step("ERROR", thought=reason)))
        run["events"].append(
            {"at": now, "kind": "finish", "status": "STOPPED", "result": None, "summary": None}
        )
        self.store.save_run(run, now)

    def _plan(self, run: dict[str, Any]) -> Outcome:
        try:
            return self.behavior.plan(self._context(run))
        except Exception as exc:  # a broken behaviour is a run ERROR, never a 500
            return Outcome(status="ERROR", result=f"agent behaviour failed: {exc}", duration=0)

    def _context(self, run: dict[str, Any]) -> RunContext:
        prompts = tuple(run["prompts"])
        results = tuple(
            e["result"] for e in run["events"] if e["kind"] == "finish" and e.get("result")
        )
        return RunContext(
            run_id=run["id"],
            org_id=run["org_id"],
            prompt=prompts[-1],
            initial_prompt=prompts[0],
            prompts=prompts,
            results=results,
            segment=len(prompts),
            metadata=run.get("metadata"),
            repo_id=run.get("repo_id"),
            model=run.get("model"),
            counter=self.store.incr,
        )

    def _truncate(self, run: dict[str, Any], now: float) -> None:
        run["events"] = [e for e in run["events"] if e["at"] <= now]

    def _lay_out(self, run: dict[str, Any], outcome: Outcome, start: float, end: float) -> None:
        steps = outcome.steps
        gap = (end - start) / (len(steps) + 1)
        for i, step in enumerate(steps):
            run["events"].append(_log(run["id"], start + gap * (i + 1), step))
        final = "FINAL_ANSWER" if outcome.status == "COMPLETE" else "ERROR"
        run["events"].append(
            _log(run["id"], end, Step(final, thought=outcome.result, observation=outcome.result))
        )
        prs = []
        if outcome.status == "COMPLETE":
            for pr in outcome.pull_requests:
                pr_id = self.store.incr("pull_request_id")
                self.store.set_meta(f"pr_run:{pr_id}", str(run["id"]))  # for PR edits
                prs.append(
                    {
                        "id": pr_id,
                        "title": pr.title,
                        "url": self.pr_url(pr_id),
                        "head_branch_name": pr.head_branch_name,
                        "created_at": iso(end),
                    }
                )
        run["events"].append(
            {
                "at": end,
                "kind": "finish",
                "status": outcome.status,
                "result": outcome.result,
                "summary": outcome.summary,
                "pull_requests": prs,
            }
        )

    # -- reading ------------------------------------------------------------------------
    def pr_url(self, pr_id: int) -> str:
        """A pull request's ``url``: its page under ``codegen-graph serve``."""
        return f"{self.base_url}/local/pull/{pr_id}"

    def status(self, run: dict[str, Any], now: float | None = None) -> str:
        """The run's status at ``now`` (default: the clock's now)."""
        t = self.clock.now() if now is None else now
        status = "PENDING"
        for e in run["events"]:
            if e["at"] <= t and e["kind"] in ("status", "finish"):
                status = e["status"]
        return status

    def view(self, run: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """The run as ``AgentRunResponse`` fields at ``now``."""
        t = self.clock.now() if now is None else now
        status, result, summary = "PENDING", None, None
        prs: dict[int, dict[str, Any]] = {}
        for e in run["events"]:
            if e["at"] > t:
                continue
            if e["kind"] in ("status", "finish"):
                status = e["status"]
            if e["kind"] == "finish":
                result = e["result"] if e["result"] is not None else result
                summary = e["summary"] if e["summary"] is not None else summary
                # rebuilt on read: a --db server restarted on another port gives live links
                prs.update(
                    {
                        pr["id"]: {**pr, "url": self.pr_url(pr["id"])}
                        for pr in e.get("pull_requests", [])
                    }
                )
        return {
            "id": run["id"],
            "organization_id": run["org_id"],
            "status": status,
            "created_at": iso(run["created_at"]),
            "web_url": f"{self.base_url}/agent/trace/{run['id']}",
            "result": result,
            "summary": summary,
            "source_type": run["source_type"],
            "github_pull_requests": list(prs.values()),
            "metadata": run.get("metadata"),
        }

    def logs(self, run: dict[str, Any], now: float | None = None) -> list[dict[str, Any]]:
        """The run's log entries written by ``now``, oldest first."""
        t = self.clock.now() if now is None else now
        return [
            {**e["log"], "created_at": iso(e["at"])}
            for e in run["events"]
            if e["kind"] == "log" and e["at"] <= t
        ]
