"""``codegen-graph run "feature spec"``: the feature workflow with a live view.

The code agent implements the spec, the tests and docs agents run in parallel on its
result, failures loop back to the code agent, and (with ``--approve``) a human approves or
sends feedback. One row per agent shows its status, elapsed time, latest remote step and
PR link while it works; a summary table (or ``--json``) follows.

With ``--checkpoint sqlite:PATH`` every step is checkpointed (``durability="sync"`` unless
``--durability async`` or ``exit`` is given), so an interrupted or killed run resumes where
it stopped, without launching any agent run twice (with any durability: the launch keys do
not depend on checkpoint ids, see ``docs/graph.md``):
``codegen-graph run --checkpoint sqlite:PATH --thread ID`` (Ctrl-C prints the exact
command).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from langchain_core.runnables import RunnableConfig
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .._exceptions import ConfigurationError
from .._status import AgentRunStatus
from ..clock import ScaledClock
from ._common import (
    DEFAULT_TIME_SCALE,
    EXIT_FAILED,
    EXIT_OK,
    FROM_OPTIONS,
    Backend,
    BackendOptions,
    JsonOpt,
    backend_options,
    cli_state,
    handle_errors,
    print_json,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["run_command"]

ROLES = ("code", "tests", "docs")
_DURABILITIES = ("sync", "async", "exit")
_GOOD_VERDICTS = {"passed", "approved"}


@dataclass
class _Row:
    status: str = "waiting"
    started: float | None = None
    finished: float | None = None
    step: str = ""
    pr: str = ""
    iteration: int = 1


@dataclass
class _Progress:
    """What the live view shows, updated from the graph's custom and update streams."""

    rows: dict[str, _Row] = field(default_factory=lambda: {r: _Row() for r in ROLES})
    phase: str = "starting"

    def on_custom(self, event: dict[str, Any]) -> None:
        row = self.rows.setdefault(str(event.get("role")), _Row())
        entry = event.get("entry") or {}
        kind = str(entry.get("message_type") or "LOG")
        detail = entry.get("tool_name") or entry.get("thought") or ""
        row.step = f"{kind.lower()}: {detail}" if detail else kind.lower()
        if row.status in {"waiting", "PENDING"}:
            row.status = "ACTIVE"

    def on_update(self, update: dict[str, Any], now: float) -> None:
        for node, values in update.items():
            if node == "__interrupt__":
                self.phase = "waiting for your approval"
                continue
            self.phase = node
            if not isinstance(values, dict):
                continue
            for key, record in (values.get("runs") or {}).items():
                row = self.rows.setdefault(key, _Row())
                row.status = str(record.get("status") or row.status)
                iteration = int(record.get("iteration") or row.iteration)
                if iteration != row.iteration:  # a new round: time it from now
                    row.iteration, row.started = iteration, None
                row.started = row.started or now
                if AgentRunStatus(row.status).is_terminal:
                    row.finished = now
                else:
                    row.finished = None
                urls = record.get("pr_urls") or []
                row.pr = cli_state().name_links(urls[-1]) if urls else row.pr

    def render(self, now: float) -> Group:
        table = Table(title="codegen-graph: feature workflow", expand=False)
        for col in ("agent", "status", "elapsed", "latest remote step", "PR"):
            table.add_column(col, overflow="fold")
        done = 0
        for role, row in self.rows.items():
            end = row.finished or now
            elapsed = f"{end - row.started:5.1f}s" if row.started else ""
            done += row.finished is not None
            label = role if row.iteration <= 1 else f"{role} (#{row.iteration})"
            table.add_row(label, row.status, elapsed, row.step[:60], row.pr)
        footer = Text(f"{done}/{len(self.rows)} agents done - now: {self.phase}", style="dim")
        return Group(table, footer)


def _parse_checkpoint(value: str | None) -> Path | None:
    if value is None:
        return None
    kind, sep, path = value.partition(":")
    if kind != "sqlite" or not sep or not path:
        raise ConfigurationError(
            f"--checkpoint must look like sqlite:PATH (for example sqlite:run.sqlite), "
            f"got {value!r}"
        )
    return Path(path)


def _check_writable(path: Path) -> None:
    """Fail before anything starts when the checkpoint file cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):  # an empty file is a new SQLite database
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        unwritable = ConfigurationError(
            f"cannot write the checkpoint file {str(path)!r} ({reason}): nothing was started"
        )
        unwritable.cli_hint = "choose a writable --checkpoint sqlite:PATH"  # type: ignore[attr-defined]
        raise unwritable from None


@asynccontextmanager
async def _checkpointer(path: Path | None) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if path is None:
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
        return
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError:
        raise ConfigurationError(
            "--checkpoint sqlite:PATH needs langgraph-checkpoint-sqlite: "
            "install the sqlite extra (from a checkout: pip install '.[sqlite]')"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


def _resume_command(
    spec: str | None,
    checkpoint: str,
    thread: str,
    options: BackendOptions,
    time_scale: float | None,
    approve: bool,
    json_out: bool,
    durability: str = "sync",
) -> str:
    # The spec is repeated so the command also works if the process died before the first
    # checkpoint; for a thread with a checkpoint it is ignored and the thread resumes.
    parts = ["codegen-graph", "run", *([spec] if spec else [])]
    parts += ["--checkpoint", checkpoint, "--thread", thread]
    if options.base_url:
        parts += ["--base-url", options.base_url]
    if options.org_id is not None:
        parts += ["--org-id", str(options.org_id)]
    if options.local_db:
        parts += ["--local-db", options.local_db]
    if options.scenario:
        parts += ["--scenario", options.scenario]
    if options.local:
        parts.append("--local")
    if time_scale is not None:
        parts += ["--time-scale", f"{time_scale:g}"]
    if approve:
        parts.append("--approve")
    if durability != "sync":
        parts += ["--durability", durability]
    if json_out:
        parts.append("--json")
    return shlex.join(parts)


def _ask_approval(question: dict[str, Any], err: Console) -> Any:
    err.print("\n[bold]The agents are done.[/bold] Verdict so far: " + str(question.get("verdict")))
    for url in question.get("pr_urls") or []:
        err.print(f"  PR: {cli_state().name_links(url)}")
    if typer.confirm("Approve the change?", default=True, err=True):
        return True
    feedback = typer.prompt("Feedback for the code agent", err=True)
    return {"approve": False, "feedback": feedback}


async def _drive(
    graph: Any,
    config: RunnableConfig,
    payload: Any,
    *,
    approve: bool,
    live: bool,
    clock_now: Any,
    durability: Any = "sync",
) -> dict[str, Any]:
    from langgraph.types import Command

    state = cli_state()
    progress = _Progress()
    stderr = state.err
    while True:
        view = (
            Live(progress.render(clock_now()), console=stderr, refresh_per_second=8)
            if live
            else None
        )
        try:
            if view is not None:
                view.start()
            async for mode, chunk in graph.astream(
                payload, config, stream_mode=["custom", "updates"], durability=durability
            ):
                if mode == "custom" and isinstance(chunk, dict):
                    progress.on_custom(chunk)
                elif mode == "updates" and isinstance(chunk, dict):
                    progress.on_update(chunk, clock_now())
                if view is not None:
                    view.update(progress.render(clock_now()))
        finally:
            if view is not None:
                view.stop()
        snapshot = await graph.aget_state(config)
        pending = [i for task in snapshot.tasks for i in task.interrupts]
        if not pending:
            return dict(snapshot.values)
        if not approve:
            raise ConfigurationError("the workflow is waiting for approval: rerun with --approve")
        payload = Command(resume=_ask_approval(pending[0].value, stderr))


def _summary(values: dict[str, Any], thread: str) -> dict[str, Any]:
    report = values.get("report") or {}
    return {
        "thread_id": thread,
        "verdict": report.get("verdict"),
        "task": report.get("task") or values.get("task"),
        "pr_urls": report.get("pr_urls", []),
        "agents": report.get("agents", {}),
        "iterations": report.get("iterations", {}),
    }


def _print_summary(summary: dict[str, Any], out: Console) -> None:
    link = cli_state().name_links
    table = Table(title=f"verdict: {summary['verdict']}")
    for col in ("agent", "status", "iterations", "seconds", "run", "PR"):
        table.add_column(col, overflow="fold")
    for role, agent in summary["agents"].items():
        seconds = agent.get("seconds")
        table.add_row(
            role,
            str(agent.get("status")),
            str(summary["iterations"].get(role, 1)),
            f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "",
            str(agent.get("agent_run_id") or ""),
            link("\n".join(agent.get("pr_urls") or [])),
        )
    out.print(table)
    for url in summary["pr_urls"]:
        out.print(f"PR: {link(url)}")


@handle_errors
@backend_options(without=("time_scale",))
def run_command(
    spec: Annotated[
        str | None,
        typer.Argument(help="The feature to build. Optional when resuming a --thread."),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            help="sqlite:PATH - checkpoint every step there, so the run can be resumed.",
            show_default=False,
        ),
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Thread id to start or resume (default: a new one)."),
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Ask for human approval before finishing.")
    ] = False,
    max_iterations: Annotated[
        int, typer.Option("--max-iterations", min=1, help="Code iterations at most.")
    ] = 3,
    repo_id: Annotated[
        int | None, typer.Option("--repo-id", help="Repository the agents work in.")
    ] = None,
    json_out: JsonOpt = False,
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            help="Simulated seconds per real second: the local backend's speed (default 60); "
            "with --base-url, match a 'codegen-graph serve --time-scale' server.",
            show_default=False,
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Local backend only: a scenario file or bundled name, e.g. tests_fail_once "
            "(the tests agent fails once, so the code agent is resumed with the report).",
            show_default=False,
        ),
    ] = None,
    durability: Annotated[
        str,
        typer.Option(
            "--durability",
            help="When LangGraph writes checkpoints: sync (before each step; the default), "
            "async (in the background, LangGraph's own default) or exit (at the end). "
            "A killed run never launches an agent run twice with any of them.",
        ),
    ] = "sync",
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Run the feature workflow: code, then tests and docs in parallel, then review."""
    from ..graph import feature_workflow

    path = _parse_checkpoint(checkpoint)
    if spec is None and thread is None:
        missing = ConfigurationError(
            'say what to build: codegen-graph run "Add a /health endpoint" (or resume a '
            "checkpointed run with --checkpoint sqlite:PATH --thread ID)"
        )
        missing.cli_hint = "codegen-graph run -h lists every option"  # type: ignore[attr-defined]
        raise missing
    if durability not in _DURABILITIES:
        raise ConfigurationError(
            f"--durability must be one of {', '.join(_DURABILITIES)}, got {durability!r}"
        )
    if spec is not None and not spec.strip():
        raise ConfigurationError("the feature spec is empty: say what to build")
    if path is not None:
        _check_writable(path)
    thread_id = thread or f"cg-{uuid.uuid4().hex[:12]}"
    if time_scale is not None and not time_scale > 0:
        raise ConfigurationError(f"--time-scale must be > 0, got {time_scale:g}")
    options = dataclasses.replace(
        options, time_scale=time_scale or DEFAULT_TIME_SCALE, scenario=scenario
    )
    if path is not None and options.is_local and options.local_db_path is None:
        # A checkpoint names runs by id: resuming it needs the same backend, so the
        # embedded one keeps its runs in a file beside the checkpoint.
        options = dataclasses.replace(options, local_db=f"{path}.local.sqlite")
    state = cli_state()
    if checkpoint is not None:
        resume = _resume_command(
            spec, checkpoint, thread_id, options, time_scale, approve, json_out, durability
        )
        state.interrupt_hint = f"resume with: {resume}"
        print(f"thread {thread_id} (resume with: {resume})", file=sys.stderr)
    else:
        state.interrupt_hint = "pass --checkpoint sqlite:PATH to make a run resumable"

    async def main() -> dict[str, Any]:
        with Backend(options) as backend:
            # A remote server running on simulated time: the client's clock must match it.
            extra: dict[str, Any] = {}
            if time_scale is not None and not backend.is_local:
                extra["clock"] = ScaledClock(time_scale)
            client = backend.async_client(**extra)
            try:
                graph = feature_workflow(
                    client=client,
                    max_iterations=max_iterations,
                    require_approval=approve,
                    repo_id=repo_id,
                ).compile
                async with _checkpointer(path) as saver:
                    compiled = graph(checkpointer=saver)
                    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
                    existing = await compiled.aget_state(config)
                    if existing.values and (existing.next or existing.tasks):
                        payload: Any = None  # resume where it stopped
                    elif existing.values and existing.values.get("report"):
                        return dict(existing.values)  # already finished
                    elif spec is None:
                        raise ConfigurationError(
                            f"thread {thread_id} has nothing to resume: give a feature spec"
                        )
                    else:
                        payload = {"task": spec}
                    live = not json_out and state.err.is_terminal
                    clock = client.clock
                    started = time.monotonic()
                    values = await _drive(
                        compiled,
                        config,
                        payload,
                        approve=approve,
                        live=live,
                        clock_now=clock.now,
                        durability=durability,
                    )
                    values.setdefault("_elapsed", time.monotonic() - started)
                    return values
            finally:
                await client.aclose()

    values = asyncio.run(main())
    summary = _summary(values, thread_id)
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary, state.out)
    raise typer.Exit(EXIT_OK if summary["verdict"] in _GOOD_VERDICTS else EXIT_FAILED)
