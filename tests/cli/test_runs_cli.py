"""`codegen-graph runs ...` on the embedded local backend (in process, one SQLite file)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from codegen_graph import (
    AgentRunFailedError,
    APIConnectionError,
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    RunTimeoutError,
    ServerError,
)
from codegen_graph.cli._common import LOCAL_NOTICE, exit_code_for, handle_errors, hint_for

from .conftest import FOREVER, SCALE, Cli, seed_run, stderr_lines


def test_create_wait_get_list_logs(cli: Cli) -> None:
    created = cli.json("runs", "create", "Add a /health endpoint")
    run_id = created["id"]
    assert created["status"] in ("PENDING", "ACTIVE")

    waited = cli.local("runs", "wait", str(run_id))
    assert waited.exit_code == 0, waited.output
    assert LOCAL_NOTICE in waited.stderr
    assert "COMPLETE" in waited.stdout and str(run_id) in waited.stdout

    got = cli.json("runs", "get", str(run_id))
    assert got["id"] == run_id and got["status"] == "COMPLETE"
    pr_id = got["github_pull_requests"][0]["id"]
    table = cli.local("runs", "get", str(run_id))
    # in process nothing serves the pages: the links are named, never printed dead
    assert f"local run {run_id} (embedded backend: no page)" in table.stdout
    assert f"local PR #{pr_id} (embedded backend: no page)" in table.stdout

    listed = cli.json("runs", "list")
    assert [r["id"] for r in listed] == [run_id]
    text = cli.local("runs", "list")
    assert str(run_id) in text.stdout and "COMPLETE" in text.stdout
    assert f"local PR #{pr_id}" in text.stdout
    started = cli.local("runs", "create", "Add a /ready endpoint")
    assert f"local run {run_id + 1} (embedded backend: no page)" in started.stdout
    for shown in (waited, table, text, started):
        assert "http" not in shown.stdout + shown.stderr

    logs = cli.json("runs", "logs", str(run_id))
    types = [e["message_type"] for e in logs]
    assert types[0] == "PLAN_EVALUATION" and types[-1] == "FINAL_ANSWER"
    plain = cli.local("runs", "logs", str(run_id))
    assert plain.exit_code == 0
    assert len(plain.stdout.splitlines()) == len(logs)
    assert "FINAL_ANSWER" in plain.stdout.splitlines()[-1]


def test_list_paginates_with_limit_and_skip(cli: Cli) -> None:
    ids = [cli.json("runs", "create", f"task {i}")["id"] for i in range(3)]
    newest_first = sorted(ids, reverse=True)
    assert [r["id"] for r in cli.json("runs", "list", "--limit", "2")] == newest_first[:2]
    assert [r["id"] for r in cli.json("runs", "list", "--skip", "1")] == newest_first[1:]
    assert cli.json("runs", "list", "--source-type", "slack") == []


def test_logs_follow_streams_until_the_end(cli: Cli) -> None:
    run_id = cli.json("runs", "create", "Add a /metrics endpoint")["id"]
    followed = cli.local("runs", "logs", str(run_id), "--follow", "--json")
    assert followed.exit_code == 0, followed.output
    entries = [json.loads(line) for line in followed.stdout.splitlines()]
    assert entries == cli.json("runs", "logs", str(run_id))
    assert entries[-1]["message_type"] == "FINAL_ANSWER"
    text = cli.local("runs", "logs", str(run_id), "-f")
    assert f"run {run_id} ended COMPLETE" in text.stderr


def test_wait_and_follow_exit_1_on_a_failed_run(cli: Cli) -> None:
    run_id = seed_run(cli, status="FAILED")
    waited = cli.local("runs", "wait", str(run_id), "--json")
    assert waited.exit_code == 1
    assert json.loads(waited.stdout)["status"] == "FAILED"
    assert cli.local("runs", "logs", str(run_id), "--follow").exit_code == 1


def test_wait_timeout_is_transient_and_says_how_to_go_on(cli: Cli) -> None:
    run_id = seed_run(cli, status="COMPLETE", duration=FOREVER)
    result = cli.local("runs", "wait", str(run_id), "--timeout", "5")
    assert result.exit_code == 4
    lines = stderr_lines(result)
    assert lines[0] == LOCAL_NOTICE
    assert lines[1].startswith("error: ") and lines[2].startswith("hint: ")
    assert f"codegen-graph runs wait {run_id}" in lines[2]


def test_resume_then_wait(cli: Cli) -> None:
    run_id = cli.json("runs", "create", "Add a /health endpoint", "--wait")["id"]
    resumed = cli.json("runs", "resume", str(run_id), "Also add a /ready endpoint")
    assert resumed["status"] == "ACTIVE"
    done = cli.json("runs", "resume", str(run_id), "And document both", "--wait")
    assert done["status"] == "COMPLETE"
    messages = [e.get("thought") for e in cli.json("runs", "logs", str(run_id))]
    assert "Also add a /ready endpoint" in messages and "And document both" in messages


def test_stop_ends_a_running_run_stopped(cli: Cli) -> None:
    run_id = seed_run(cli, status="COMPLETE", duration=FOREVER)
    assert cli.json("runs", "get", str(run_id))["status"] in ("PENDING", "ACTIVE")
    stopped = cli.json("runs", "stop", str(run_id))
    assert stopped["id"] == run_id and stopped["status"] == "STOPPED"
    assert cli.json("runs", "get", str(run_id))["status"] == "STOPPED"
    assert cli.json("runs", "logs", str(run_id))[-1]["message_type"] == "ERROR"
    again = cli.local("runs", "stop", str(run_id))
    assert again.exit_code == 0 and f"stopped run {run_id}: STOPPED" in again.stdout


def test_stop_of_an_unknown_run_is_one_line_and_a_hint(cli: Cli) -> None:
    result = cli.local("runs", "stop", "424242")
    assert result.exit_code == 3
    lines = stderr_lines(result)
    assert lines[1].startswith("error: HTTP 404") and "/agent/run/ban" in lines[1]
    assert lines[2].startswith("hint: ") and len(lines) == 3


def test_stats(cli: Cli) -> None:
    for prompt in ("Add a /health endpoint", "Write the README docs"):
        cli.json("runs", "create", prompt, "--wait")
    seed_run(cli, status="FAILED", duration=30.0)
    seed_run(cli, status="COMPLETE", duration=FOREVER)  # still running: no duration

    stats = cli.json("runs", "stats")
    assert stats["runs"] == 4 and stats["finished"] == 3 and stats["succeeded"] == 2
    assert stats["success_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert stats["by_status"]["COMPLETE"] == 2 and stats["by_status"]["FAILED"] == 1
    assert stats["runs_timed"] == 3
    # the seeded failure ends after 30 simulated seconds; scripted runs take longer
    assert 30 <= stats["median_seconds"] <= stats["p95_seconds"] < 600
    assert sum(stats["per_day"].values()) == 4
    assert stats["by_source"]["API"]["runs"] == 4
    assert cli.json("runs", "stats", "--limit", "1")["runs"] == 1
    untimed = cli.json("runs", "stats", "--no-durations")
    assert untimed["runs_timed"] == 0 and untimed["median_seconds"] is None
    table = cli.local("runs", "stats")
    assert "success rate" in table.stdout and "67%" in table.stdout


def test_not_found_is_one_line_and_a_hint(cli: Cli) -> None:
    result = cli.local("runs", "get", "424242")
    assert result.exit_code == 3
    lines = stderr_lines(result)
    assert lines[1].startswith("error: HTTP 404") and lines[2].startswith("hint: ")
    assert len(lines) == 3 and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli("--debug", "runs", "get", "424242", "--time-scale", SCALE)
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and "NotFoundError" in result.stderr


def test_config_errors_exit_2(cli: Cli) -> None:
    # a token but no organisation
    result = cli("runs", "list", "--token", "canary-secret-1", "--base-url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "CODEGEN_ORG_ID" in result.stderr and "canary-secret-1" not in result.output
    refused = cli("runs", "list", "--token", "x", "--org-id", "1", "--base-url", "http://a.example")
    assert refused.exit_code == 2 and "clear text" in refused.stderr
    assert cli("runs", "list", "--time-scale", "0").exit_code == 2
    assert cli("runs", "get", "abc").exit_code == 2  # click usage error


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigurationError("x"), 2),
        (AuthenticationError("no", status_code=401), 3),
        (NotFoundError("no", status_code=404), 3),
        (RateLimitError("slow", status_code=429, retry_after=12), 4),
        (ServerError("boom", status_code=503), 4),
        (APIConnectionError("refused"), 4),
        (CircuitOpenError("open"), 4),
        (RunTimeoutError("late", run=None), 4),
        (AgentRunFailedError("failed", run=None), 1),
        (KeyboardInterrupt(), 130),
        (RuntimeError("bug"), 1),
    ],
)
def test_exit_codes_and_hints(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code
    hint = hint_for(exc)
    assert hint and "\n" not in hint


def test_rate_limit_hint_names_the_wait() -> None:
    assert "12 s" in hint_for(RateLimitError("slow", status_code=429, retry_after=12))


def test_ctrl_c_exits_130_with_the_hint() -> None:
    app = typer.Typer()

    @app.command()
    @handle_errors
    def slow() -> None:
        from codegen_graph.cli._common import cli_state

        cli_state().interrupt_hint = "resume with: codegen-graph runs wait 7"
        raise KeyboardInterrupt

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 130
    assert stderr_lines(result) == ["interrupted", "hint: resume with: codegen-graph runs wait 7"]


def test_the_live_status_line_shows_status_and_elapsed_time() -> None:
    import io

    from rich.console import Console

    from codegen_graph.cli._runs import _StatusLine
    from codegen_graph.clock import ManualClock
    from codegen_graph.local import LocalCodegen

    clock = ManualClock()
    with LocalCodegen(clock=clock) as local, local.client() as client:
        run = client.agent_runs.start("Add a /health endpoint")
        clock.sleep(10)  # simulated: the run is underway
        run.refresh()
        out = io.StringIO()
        Console(file=out, width=80).print(_StatusLine(client, run))
    assert f"run {run.id}: ACTIVE · 0m10s" in out.getvalue()
