"""``codegen-graph runs ...``: everyday agent-run commands (list, get, logs, wait, ...)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ._common import (
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
from ._stats import RunStats, compute_stats, parse_time

if TYPE_CHECKING:
    from .. import AgentRun, CodegenClient
    from ..models import AgentRunLogResponse, AgentRunResponse

__all__ = ["runs_app"]

runs_app = typer.Typer(
    name="runs",
    help="Agent runs of your organisation: list, get, logs, wait, resume, stop, create, stats.",
    no_args_is_help=True,
)

RunIdArg = Annotated[int, typer.Argument(help="Agent run id.", min=1)]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds to wait at most (default: no limit).", min=0),
]


@contextmanager
def _client(options: BackendOptions) -> Iterator[CodegenClient]:
    with Backend(options) as backend, backend.client() as client:
        yield client


def _dump(run: AgentRunResponse) -> dict[str, Any]:
    return run.model_dump(mode="json", exclude_none=True)


def _status(run: AgentRunResponse) -> str:
    return run.status.raw if run.status is not None else "?"


def _status_text(run: AgentRunResponse) -> Text:
    status = run.status
    style = ""
    if status is not None and status.is_success:
        style = "green"
    elif status is not None and status.is_failure:
        style = "red"
    elif status is not None and not status.is_terminal:
        style = "yellow"
    return Text(_status(run), style=style)


def _short(text: str | None, width: int = 60) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _source(run: AgentRunResponse) -> str:
    source = run.source_type
    return getattr(source, "value", source) or ""


def _run_table(run: AgentRunResponse) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("id", str(run.id))
    table.add_row("status", _status_text(run))
    table.add_row("created", run.created_at or "")
    table.add_row("source", _source(run))
    link = cli_state().name_links
    table.add_row("web", link(run.web_url or ""))
    for url in run.pr_urls:
        table.add_row("pull request", link(url))
    if run.summary:
        table.add_row("summary", Text(run.summary))
    if run.result:
        table.add_row("result", Text(run.result))
    return table


def _finish(run: AgentRunResponse, as_json: bool) -> None:
    """Print a run's final state and exit 0 on success, 1 otherwise."""
    state = cli_state()
    if as_json:
        print_json(_dump(run))
    else:
        state.out.print(_run_table(run))
    if not (run.status is not None and run.status.is_success):
        raise typer.Exit(EXIT_FAILED)


class _StatusLine:
    """A live one-line view of a run being waited on (re-read from the watcher)."""

    def __init__(self, client: CodegenClient, run: AgentRun) -> None:
        self._client, self._run = client, run
        self._spinner = Spinner("dots")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        data = self._client.watcher.latest(self._run.id) or self._run.data
        text = f"run {data.id}: {_status(data)}"
        created = parse_time(data.created_at)
        if created is not None:
            elapsed = max(0, int(self._client.clock.now() - created.timestamp()))
            text += f" · {elapsed // 60}m{elapsed % 60:02d}s"
        self._spinner.update(text=Text(text))
        yield self._spinner


def _wait_hint(run_id: int) -> str:
    return f"the run goes on; wait again with: codegen-graph runs wait {run_id}"


def wait_live(client: CodegenClient, run: AgentRun, timeout: float | None, live: bool) -> None:
    """Wait for ``run`` (with the live view when ``live``); Ctrl-C says how to resume."""
    state = cli_state()
    state.interrupt_hint = _wait_hint(run.id)
    if run.is_terminal:
        return
    if not live:
        run.wait(timeout)
        return
    with Live(_StatusLine(client, run), console=state.err, refresh_per_second=8, transient=True):
        run.wait(timeout)


# -- commands ----------------------------------------------------------------------------
@runs_app.command("list")
@handle_errors
@backend_options()
def list_runs(
    limit: Annotated[int, typer.Option(help="Runs to show (newest first).", min=1)] = 20,
    skip: Annotated[int, typer.Option(help="Runs to skip first.", min=0)] = 0,
    source_type: Annotated[
        str | None, typer.Option("--source-type", help="Only runs from this source (e.g. API).")
    ] = None,
    user_id: Annotated[int | None, typer.Option("--user-id", help="Only this user's runs.")] = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """List the organisation's agent runs, newest first."""
    with _client(options) as client:
        source = source_type.upper() if source_type else None
        iterator = client.agent_runs.iter(
            user_id=user_id, source_type=source, page_size=min(limit + skip, 100)
        )
        runs = list(itertools.islice(iterator, skip, skip + limit))
    if as_json:
        print_json([_dump(r) for r in runs])
        return
    out = cli_state().out
    if not runs:
        out.print("no agent runs")
        return
    table = Table("id", "status", "created", "source", "pull requests", "result")
    for r in runs:
        table.add_row(
            str(r.id),
            _status_text(r),
            (r.created_at or "")[:19],
            _source(r),
            cli_state().name_links("\n".join(r.pr_urls)),
            Text(_short(r.result or r.summary, 50)),
        )
    out.print(table)


@runs_app.command("get")
@handle_errors
@backend_options()
def get_run(
    run_id: RunIdArg,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Show one agent run."""
    with _client(options) as client:
        run = client.agent_runs.get(run_id)
    if as_json:
        print_json(_dump(run))
    else:
        cli_state().out.print(_run_table(run))


def _log_line(entry: AgentRunLogResponse) -> str:
    stamp = parse_time(entry.created_at)
    when = stamp.strftime("%H:%M:%S") if stamp else "--:--:--"
    detail = entry.thought
    if not detail and entry.observation is not None:
        detail = str(entry.observation)
    if not detail and entry.tool_output is not None:
        detail = str(entry.tool_output)
    parts = [when, (entry.message_type or "").ljust(15)]
    if entry.tool_name:
        parts.append(f"[{entry.tool_name}]")
    if detail:
        parts.append(_short(detail, 160))
    return "  ".join(parts)


@runs_app.command("logs")
@handle_errors
@backend_options()
def run_logs(
    run_id: RunIdArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Stream new entries until the run ends.")
    ] = False,
    timeout: TimeoutOpt = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON: an array, or one object per line with --follow."),
    ] = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Print a run's log entries (the agent's steps), oldest first."""
    if follow:
        cli_state().interrupt_hint = (
            f"the run goes on; follow it again with: codegen-graph runs logs {run_id} --follow"
        )
    with _client(options) as client:
        run = client.agent_runs.attach(run_id)
        if not follow:
            entries = run.logs()
            if as_json:
                print_json([e.model_dump(mode="json", exclude_none=True) for e in entries])
            else:
                for entry in entries:
                    typer.echo(_log_line(entry))
            return
        for entry in run.stream_logs(timeout=timeout):
            if as_json:
                sys.stdout.write(entry.model_dump_json(exclude_none=True) + "\n")
            else:
                sys.stdout.write(_log_line(entry) + "\n")
            sys.stdout.flush()
        final = run.refresh().data
    if not as_json:
        typer.echo(f"run {final.id} ended {_status(final)}", err=True)
    if not (final.status is not None and final.status.is_success):
        raise typer.Exit(EXIT_FAILED)


@runs_app.command("wait")
@handle_errors
@backend_options()
def wait_run(
    run_id: RunIdArg,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Wait for a run to end, with a live status line; exit 0 if COMPLETE, 1 otherwise."""
    cli_state().interrupt_hint = _wait_hint(run_id)
    with _client(options) as client:
        run = client.agent_runs.attach(run_id)
        wait_live(client, run, timeout, live=not as_json)
    _finish(run.data, as_json)


def _started(
    run: AgentRun, verb: str, *, wait: bool, as_json: bool, show_url: bool = False
) -> None:
    """What resume and create print: the final state when waited for, else the new state."""
    if wait:
        _finish(run.data, as_json)
    elif as_json:
        print_json(_dump(run.data))
    else:
        cli_state().out.print(f"{verb} run {run.id}: {_status(run.data)}")
        if show_url and run.web_url:
            cli_state().out.print(cli_state().name_links(run.web_url), soft_wrap=True)


@runs_app.command("resume")
@handle_errors
@backend_options()
def resume_run(
    run_id: RunIdArg,
    prompt: Annotated[str, typer.Argument(help="The follow-up message for the agent.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to end.")] = False,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Send a follow-up prompt to a run (it becomes active again)."""
    with _client(options) as client:
        run = client.agent_runs.attach(run_id).resume(prompt)
        if wait:
            wait_live(client, run, timeout, live=not as_json)
    _started(run, "resumed", wait=wait, as_json=as_json)


@runs_app.command("stop")
@handle_errors
@backend_options()
def stop_run(
    run_id: RunIdArg,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Stop a run: the API bans all checks of the run, so a running agent stops (STOPPED)."""
    with _client(options) as client:
        run = client.agent_runs.stop(run_id)
    if as_json:
        print_json(_dump(run))
    else:
        cli_state().out.print(f"stopped run {run.id}: {_status(run)}")


@runs_app.command("create")
@handle_errors
@backend_options()
def create_run(
    prompt: Annotated[str, typer.Argument(help="What the agent should do.")],
    repo_id: Annotated[int | None, typer.Option("--repo-id", help="Repository id.")] = None,
    model: Annotated[str | None, typer.Option(help="Model for the agent.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to end.")] = False,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Start an agent run."""
    with _client(options) as client:
        run = client.agent_runs.start(prompt, repo_id=repo_id, model=model)
        if wait:
            wait_live(client, run, timeout, live=not as_json)
    _started(run, "created", wait=wait, as_json=as_json, show_url=True)


def _stats_table(stats: RunStats) -> Table:
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} s"

    rate = "-" if stats.success_rate is None else f"{stats.success_rate:.0%}"
    table = Table(title="agent runs", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("runs", str(stats.runs))
    table.add_row("finished", str(stats.finished))
    table.add_row("success rate", f"{rate} ({stats.succeeded}/{stats.finished})")
    table.add_row("median duration", secs(stats.median_seconds))
    table.add_row("p95 duration", secs(stats.p95_seconds))
    table.add_row("timed runs", str(stats.runs_timed))
    table.add_row("by status", ", ".join(f"{k} {v}" for k, v in stats.by_status.items()))
    return table


@runs_app.command("stats")
@handle_errors
@backend_options()
def run_stats(
    limit: Annotated[int, typer.Option(help="How many recent runs to consider.", min=1)] = 100,
    durations: Annotated[
        bool,
        typer.Option(
            help="Derive durations (one logs request per finished run; the logs budget is "
            "60 per minute)."
        ),
    ] = True,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Usage analytics: success rate, median and p95 duration, runs per day and per source.

    A run's duration is the time from its creation to its last log entry.
    """
    state = cli_state()
    last_log: dict[int, str | None] = {}
    with _client(options) as client:
        runs = list(itertools.islice(client.agent_runs.iter(page_size=min(limit, 100)), limit))
        if durations:
            finished = [r for r in runs if r.status is not None and r.status.is_terminal]
            with state.err.status("") as status:
                for i, r in enumerate(finished, 1):
                    status.update(f"reading the last log entry of run {r.id} ({i}/{len(finished)})")
                    page = client.agent_runs.logs(r.id, limit=1, reverse=True)
                    last_log[r.id] = page.logs[0].created_at if page.logs else None
    stats = compute_stats(runs, last_log)
    if as_json:
        print_json(stats.to_dict())
        raise typer.Exit(EXIT_OK)
    out = state.out
    out.print(_stats_table(stats))
    days = Table("day", "runs", title="runs per day")
    for day, count in stats.per_day.items():
        days.add_row(day, str(count))
    out.print(days)
    sources = Table("source", "runs", "finished", "success rate", title="by source type")
    for name, row in stats.by_source.items():
        rate = row["success_rate"]
        sources.add_row(
            name,
            str(row["runs"]),
            str(row["finished"]),
            "-" if rate is None else f"{rate:.0%}",
        )
    out.print(sources)
