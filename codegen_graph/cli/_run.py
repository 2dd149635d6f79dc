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
import os
import re
import shlex
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from langchain_core.runnables import RunnableConfig
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .._status import AgentRunStatus
from ..clock import ScaledClock
from ._common import (
    DEFAULT_TIME_SCALE,
    EXIT_FAILED,
    EXIT_OK,
    FROM_OPTIONS,
    TIME_SCALE_TAKES,
    Backend,
    BackendOptions,
    JsonOpt,
    backend_options,
    cli_state,
    handle_errors,
    option_error,
    print_json,
    usage_error,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["run_command"]

ROLES = ("code", "tests", "docs")
_DURABILITIES = ("sync", "async", "exit")
_GOOD_VERDICTS = {"passed", "approved"}
#: How the lines codegen-graph adds to prompts begin (follow-up keys, output repairs): they
#: are bookkeeping, not what the agent is doing, and never shown.
_MARKER = "[codegen-graph "
#: The live view's fixed column widths; the step column takes the rest of the line.
_WIDTHS = {"agent": 11, "status": 9, "elapsed": 8, "PR": 5}


def _clean(text: object) -> str:
    """An agent's text on one line, without the lines starting with :data:`_MARKER`."""
    lines = str(text or "").splitlines()
    return " ".join(" ".join(x for x in lines if not x.lstrip().startswith(_MARKER)).split())


def _clip(text: str, width: int) -> str:
    """``text`` in ``width`` cells, cut after a whole word ("..." marks the cut)."""
    if len(text) <= width:
        return text
    head = text[: max(width - 1, 0)]
    cut = head.rfind(" ")
    return (head[:cut] if cut > 0 else head).rstrip() + "…"


class _Clip:
    """A one-line cell that is clipped at a word boundary to the width the table gives it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, max(len(self.text), 1))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(_clip(self.text, options.max_width), no_wrap=True)


def _pr_label(url: str) -> str:
    """``#17`` for ``.../pull/17``: the table shows this, the whole link goes below it."""
    number = re.search(r"(\d+)\D*$", url)  # .../pull/17, or "local PR #17 (...)" in process
    return f"#{number.group(1)}" if number else "PR"


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
    """What the live view shows, updated from the graph's custom and update streams.

    A row shows its agent's current segment (a new iteration starts it afresh); the time
    spent at the approval prompt is kept apart, in ``approvals`` (clock intervals).
    """

    rows: dict[str, _Row] = field(default_factory=lambda: {r: _Row() for r in ROLES})
    phase: str = "starting"
    approvals: list[tuple[float, float]] = field(default_factory=list)
    decision: str = ""

    def on_custom(self, event: dict[str, Any]) -> None:
        row = self.rows.setdefault(str(event.get("role")), _Row())
        entry = event.get("entry") or {}
        kind = str(entry.get("message_type") or "LOG").lower()
        detail = _clean(entry.get("tool_name") or entry.get("thought"))
        row.step = f"{kind}: {detail}" if detail else kind
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
                iteration = int(record.get("iteration") or row.iteration)
                if iteration != row.iteration:  # a new segment: nothing of the last one
                    self.rows[key] = row = _Row(iteration=iteration)
                row.status = str(record.get("status") or row.status)
                row.started = row.started or now
                row.finished = now if AgentRunStatus(row.status).is_terminal else None
                urls = record.get("pr_urls") or []
                row.pr = cli_state().name_links(urls[-1]) if urls else row.pr

    def render(self, now: float) -> Group:
        table = Table(title="codegen-graph: feature workflow", expand=True)
        for name in ("agent", "status", "elapsed", "latest remote step", "PR"):
            width = _WIDTHS.get(name)  # None: the step column, which takes the rest
            table.add_column(
                name,
                width=width,
                ratio=None if width else 1,
                no_wrap=True,
                justify="right" if name == "elapsed" else "left",
            )
        links: list[str] = []
        for role, row in list(self.rows.items()):  # Live's refresh thread calls this too
            elapsed = f"{(row.finished or now) - row.started:.1f}s" if row.started else ""
            label = role if row.iteration <= 1 else f"{role} (#{row.iteration})"
            pr = _pr_label(row.pr) if row.pr else ""
            if row.pr and row.pr not in links:
                links.append(row.pr)
            table.add_row(label, row.status, elapsed, _Clip(row.step), pr)
        if self.approvals:  # the time at the prompt: a person's, not an agent's
            waited = sum(end - start for start, end in self.approvals)
            table.add_row("approval", self.decision, f"{waited:.1f}s", "you", "")
        done = sum(self.rows[r].finished is not None for r in ROLES if r in self.rows)
        lines = [Text(f"{_pr_label(u)}: {u}", overflow="fold") for u in links]
        footer = Text(f"{done}/{len(ROLES)} agents done - now: {self.phase}", style="dim")
        return Group(table, *lines, footer)


def _parse_checkpoint(value: str | None) -> Path | None:
    if value is None:
        return None
    kind, sep, path = value.partition(":")
    if kind != "sqlite" or not sep or not path:
        takes = "sqlite:PATH, for example sqlite:run.sqlite"
        raise option_error("--checkpoint", f"must look like sqlite:PATH, got {value!r}", takes)
    return Path(path)


def _sqlite_saver() -> Any:
    """``AsyncSqliteSaver``, imported before anything starts (the sqlite extra is optional)."""
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError:
        raise usage_error(
            "--checkpoint needs langgraph-checkpoint-sqlite, which is not installed: "
            "nothing was started",
            "install the sqlite extra (from a checkout: pip install '.[sqlite]'), or leave "
            "out --checkpoint",
        ) from None
    return AsyncSqliteSaver


def _check_writable(path: Path) -> None:
    """Fail before anything starts when the checkpoint file cannot be written; this
    creates nothing (the file and its folders are made once the run starts)."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    if existing == path:
        reason = "it is a directory" if path.is_dir() else "permission denied"
        ok = path.is_file() and os.access(path, os.W_OK)
    else:
        reason = f"{existing} is not a directory" if not existing.is_dir() else "permission denied"
        ok = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    if not ok:
        raise usage_error(
            f"cannot write the checkpoint file {str(path)!r} ({reason}): nothing was started",
            "choose a writable --checkpoint sqlite:PATH",
        )


@asynccontextmanager
async def _checkpointer(path: Path | None, saver: Any) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if path is None:
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    async with saver.from_conn_string(str(path)) as opened:
        yield opened


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
        err.print(f"  PR: {cli_state().name_links(url)}", soft_wrap=True)
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
    clock_now: Callable[[], float],
    durability: Any = "sync",
) -> tuple[dict[str, Any], _Progress]:
    """Stream the graph to its end with the live view on stderr; ask for approval when it
    pauses. Returns the final state and the progress (which holds the approval time)."""
    from langgraph.types import Command

    progress = _Progress()
    err = cli_state().err
    while True:
        view = (
            Live(
                console=err,
                refresh_per_second=8,
                get_renderable=lambda: progress.render(clock_now()),
            )
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
                    view.refresh()
        finally:
            if view is not None:
                view.stop()
        snapshot = await graph.aget_state(config)
        pending = [i for task in snapshot.tasks for i in task.interrupts]
        if not pending:
            return dict(snapshot.values), progress
        if not approve:
            raise usage_error(
                "the workflow is waiting for approval", "resume the thread with --approve"
            )
        asked = clock_now()
        decision = _ask_approval(pending[0].value, err)
        progress.approvals.append((asked, clock_now()))
        progress.decision = "approved" if decision is True else "rejected"
        payload = Command(resume=decision)


def _summary(
    values: dict[str, Any], thread: str, approvals: Sequence[tuple[float, float]] = ()
) -> dict[str, Any]:
    """The run's outcome; an agent's seconds leave out the time spent at the prompt (a code
    run resumed with a reviewer's feedback would otherwise count it)."""
    report = values.get("report") or {}
    runs = values.get("runs") or {}
    agents: dict[str, Any] = {}
    for role, agent in (report.get("agents") or {}).items():
        record, seconds = runs.get(role) or {}, agent.get("seconds")
        start, end = record.get("created_at"), record.get("finished_at")
        if isinstance(seconds, (int, float)) and start is not None and end is not None:
            overlap = sum(max(0.0, min(b, end) - max(a, start)) for a, b in approvals)
            agent = {**agent, "seconds": round(seconds - overlap, 3)}
        agents[role] = agent
    waited = round(sum(b - a for a, b in approvals), 3)
    return {
        "thread_id": thread,
        "verdict": report.get("verdict"),
        "task": report.get("task") or values.get("task"),
        "pr_urls": report.get("pr_urls", []),
        "agents": agents,
        "iterations": report.get("iterations", {}),
        "approval": {"decisions": len(approvals), "seconds": waited} if approvals else None,
    }


def _print_summary(summary: dict[str, Any], out: Console) -> None:
    link = cli_state().name_links
    table = Table(title=f"verdict: {summary['verdict']}")
    for col in ("agent", "status", "iterations", "seconds", "run", "PR"):
        table.add_column(col, no_wrap=True, justify="right" if col == "seconds" else "left")
    for role, agent in summary["agents"].items():
        seconds = agent.get("seconds")
        table.add_row(
            role,
            str(agent.get("status")),
            str(summary["iterations"].get(role, 1)),
            f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "",
            str(agent.get("agent_run_id") or ""),
            " ".join(_pr_label(u) for u in agent.get("pr_urls") or []),
        )
    approval = summary.get("approval")
    if approval:  # a person's time, apart from the agents'
        table.add_row("approval", "you", str(approval["decisions"]), f"{approval['seconds']:.1f}")
    out.print(table)
    for url in summary["pr_urls"]:  # whole, on a line of their own: never wrapped mid-link
        out.print(f"PR: {link(url)}", soft_wrap=True)


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
    from ..observability import tracing, tracing_is_enabled

    path = _parse_checkpoint(checkpoint)
    if spec is None and thread is None:
        raise usage_error(
            'say what to build: codegen-graph run "Add a /health endpoint" (or resume a '
            "checkpointed run with --checkpoint sqlite:PATH --thread ID)",
            "codegen-graph run -h lists every option",
        )
    if durability not in _DURABILITIES:
        takes = "sync (the default), async or exit"
        raise option_error("--durability", f"does not take {durability!r}", takes)
    if spec is not None and not spec.strip():
        raise usage_error(
            "the feature spec is empty: say what to build",
            'give the feature in words: codegen-graph run "Add a /health endpoint"',
        )
    if time_scale is not None and not time_scale > 0:
        raise option_error("--time-scale", f"must be > 0, got {time_scale:g}", TIME_SCALE_TAKES)
    # Everything that can be wrong is checked before anything starts or is written: the
    # extra, the path, then the backend's settings (the embedded one's database is made last).
    saver = _sqlite_saver() if path is not None else None
    if path is not None:
        _check_writable(path)
    thread_id = thread or f"cg-{uuid.uuid4().hex[:12]}"
    options = dataclasses.replace(
        options, time_scale=time_scale or DEFAULT_TIME_SCALE, scenario=scenario
    )
    if path is not None and options.is_local and options.local_db_path is None:
        # A checkpoint names runs by id: resuming it needs the same backend, so the
        # embedded one keeps its runs in a file beside the checkpoint.
        options = dataclasses.replace(options, local_db=f"{path}.local.sqlite")
    state = cli_state()
    backend = Backend(options)

    async def main() -> tuple[dict[str, Any], _Progress | None]:
        # A remote server running on simulated time: the client's clock must match it.
        extra: dict[str, Any] = {}
        if time_scale is not None and not backend.is_local:
            extra["clock"] = ScaledClock(time_scale)
        client = backend.async_client(**extra)
        try:
            builder = feature_workflow(
                client=client,
                max_iterations=max_iterations,
                require_approval=approve,
                repo_id=repo_id,
            )
            async with _checkpointer(path, saver) as checkpointer:
                # Named as in Studio: a LangSmith trace's root is "feature", not "LangGraph".
                compiled = builder.compile(checkpointer=checkpointer, name="feature")
                config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
                existing = await compiled.aget_state(config)
                if existing.values and (existing.next or existing.tasks):
                    payload: Any = None  # resume where it stopped
                elif existing.values and existing.values.get("report"):
                    return dict(existing.values), None  # already finished
                elif spec is None:
                    raise usage_error(
                        f"thread {thread_id} has nothing to resume",
                        "give the feature spec too, or check --thread and --checkpoint",
                    )
                else:
                    payload = {"task": spec}
                return await _drive(
                    compiled,
                    config,
                    payload,
                    approve=approve,
                    live=not json_out and state.err.is_terminal,
                    clock_now=client.clock.now,
                    durability=durability,
                )
        finally:
            await client.aclose()

    with backend:
        if checkpoint is not None:
            resume = _resume_command(
                spec, checkpoint, thread_id, options, time_scale, approve, json_out, durability
            )
            state.interrupt_hint = f"resume with: {resume}"
            print(f"thread {thread_id} (resume with: {resume})", file=sys.stderr)
        else:
            state.interrupt_hint = "pass --checkpoint sqlite:PATH to make a run resumable"
        with tracing() if tracing_is_enabled() else nullcontext():
            values, progress = asyncio.run(main())
    summary = _summary(values, thread_id, progress.approvals if progress else ())
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary, state.out)
    raise typer.Exit(EXIT_OK if summary["verdict"] in _GOOD_VERDICTS else EXIT_FAILED)
