"""``codegen-graph run``: the feature workflow from the command line."""

from __future__ import annotations

import contextvars
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codegen_graph.cli import app
from codegen_graph.clock import ManualClock, SystemClock
from codegen_graph.local import LocalCodegen, LocalServer

from .conftest import Cli, stderr_lines

SPEC = "Add a /health endpoint that returns the service version"


def test_run_on_the_local_backend_prints_every_pr_link(cli: Cli) -> None:
    result = cli.local("run", SPEC)
    assert result.exit_code == 0, result.output
    assert "no CODEGEN_API_TOKEN set: using the embedded local backend" in result.stderr
    assert "verdict: passed" in result.stdout
    prs = [line.split("PR: ", 1)[1] for line in result.stdout.splitlines() if "PR: " in line]
    assert len(prs) >= 2  # the code and docs agents each open one
    # in process nothing serves their pages: named, never printed as dead links
    assert all(re.fullmatch(r"local PR #\d+ \(embedded backend: no page\)", pr) for pr in prs)
    assert "http" not in result.stdout + result.stderr
    for role in ("code", "tests", "docs"):
        assert role in result.stdout


def test_the_approval_prompt_and_the_live_view_name_in_process_links(cli: Cli) -> None:
    from rich.console import Console

    from codegen_graph.cli._common import Backend, BackendOptions, CliState, set_cli_state
    from codegen_graph.cli._run import _Progress

    args = ["run", SPEC, "--approve", "--time-scale", "1000"]
    result = cli.runner.invoke(app, args, input="y\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    asked = [line.strip() for line in result.stderr.splitlines() if "PR: " in line]
    assert asked and all(line.startswith("PR: local PR #") for line in asked), result.stderr
    assert "http" not in result.stdout + result.stderr

    def live_view() -> str:
        """The live view's rows, as a command on the in-process backend draws them."""
        set_cli_state(CliState())
        with Backend(BackendOptions(local=True), announce=lambda line: None) as backend:
            progress = _Progress()
            url = f"{backend.local.base_url}/local/pull/3" if backend.local else ""
            update = {"code": {"runs": {"code": {"status": "ACTIVE", "pr_urls": [url]}}}}
            progress.on_update(update, 0)
            console = Console(record=True, width=200)
            console.print(progress.render(10.0))
        return console.export_text()

    drawn = contextvars.copy_context().run(live_view)  # the CLI state stays in there
    assert "local PR #3 (embedded backend: no page)" in drawn and "http" not in drawn


def test_run_json_parses(cli: Cli) -> None:
    data = cli.json("run", SPEC)
    assert data["verdict"] == "passed"
    assert set(data["agents"]) == {"code", "tests", "docs"}
    assert data["pr_urls"]
    assert all(a["status"] == "COMPLETE" for a in data["agents"].values())
    assert data["thread_id"].startswith("cg-")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--checkpoint", "postgres:x"], "--checkpoint must look like sqlite:PATH"),
        (["   "], "the feature spec is empty"),
        (["--time-scale", "0"], "--time-scale must be > 0"),
    ],
)
def test_bad_arguments_give_one_clear_line(cli: Cli, args: list[str], needle: str) -> None:
    result = cli("run", *([SPEC] if args[0] != "   " else []), *args)
    assert result.exit_code == 2
    lines = stderr_lines(result)
    assert any(needle in line for line in lines), lines
    assert "Traceback" not in result.stderr
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1


def test_resuming_a_finished_thread_prints_its_report(cli: Cli, tmp_path: Path) -> None:
    checkpoint = f"sqlite:{tmp_path / 'cp.sqlite'}"
    first = cli.local("run", SPEC, "--checkpoint", checkpoint, "--thread", "t-1", "--json")
    assert first.exit_code == 0, first.output
    again = cli.local("run", "--checkpoint", checkpoint, "--thread", "t-1", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["agents"] == json.loads(first.stdout)["agents"]


def test_the_resume_command_repeats_the_spec(cli: Cli, tmp_path: Path) -> None:
    checkpoint = f"sqlite:{tmp_path / 'cp.sqlite'}"
    result = cli.local("run", SPEC, "--checkpoint", checkpoint, "--thread", "t-2")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stderr.splitlines() if "resume with: " in x)
    command = shlex.split(line.split("resume with: ", 1)[1].rstrip(")"))
    assert command[:3] == ["codegen-graph", "run", SPEC]
    assert command[command.index("--thread") + 1] == "t-2"


def test_resuming_an_unknown_thread_without_a_spec_is_a_usage_error(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli.local("run", "--checkpoint", f"sqlite:{tmp_path / 'cp.sqlite'}", "--thread", "x")
    assert result.exit_code == 2
    assert "has nothing to resume" in result.stderr


# -- real processes: interrupt and kill, then resume with the printed command -----------------

SCALE = 40.0
#: Real seconds before a child process counts as hung. A bound for a hang, not a speed
#: expectation: these tests wait for conditions (a run created, the process gone), and on a
#: loaded machine (``../shared/tools/under-load``) the CLI alone takes tens of seconds to
#: import and start. The tests' own pytest timeout is raised to match.
HUNG = 600.0


def _cli_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "codegen_graph", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + HUNG
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)  # polling another process's progress


def _resume_args(stderr: str) -> list[str]:
    marker = "resume with: "
    line = next(line for line in stderr.splitlines() if marker in line)
    command = shlex.split(line.split(marker, 1)[1].rstrip(")"))
    assert command[:2] == ["codegen-graph", "run"]
    return command[1:]


def _finish(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = _cli_process(args, env)
    out, err = proc.communicate(timeout=HUNG)
    assert proc.returncode == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def _clean_env(server: LocalServer) -> dict[str, str]:
    env = {k: "" for k in ("CODEGEN_TOKEN", "CODEGEN_LOCAL_DB")}
    env.update(server.env())
    env["LANGSMITH_TRACING"] = "false"
    return env


KILL_POINTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "before the first create": lambda stats: True,
    "right after a create": lambda stats: stats["runs_created"] >= 1,
    # the wait nodes stream the run's log (the key scans list runs before any create)
    "while waiting": lambda stats: (
        stats["runs_created"] >= 1 and stats["requests"].get("logs", 0) >= 2
    ),
    "during the parallel branch": lambda stats: stats["runs_created"] >= 3,
}

#: Runs other users of the org already have (issue 12: the busy organisation).
BUSY_ORG_RUNS = 300


def _busy_backend(db: Path, token: str, org_id: int) -> None:
    """Fill the backend's database with runs by another user, dated twelve hours ahead, so
    every run the workflow creates has 300 newer runs in front of it in the run list."""
    seeder = LocalCodegen(
        token, org_id, db=db, rate_limits=False, clock=ManualClock(start=time.time() + 43_200)
    )
    other = seeder.add_token()
    with seeder.httpx_client(headers={"Authorization": f"Bearer {other}"}) as http:
        for i in range(BUSY_ORG_RUNS):
            response = http.post(f"/v1/organizations/{org_id}/agent/run", json={"prompt": f"o{i}"})
            assert response.status_code == 200, response.text
    seeder.clock = SystemClock()  # the server's clock must start from now, not from there
    seeder.close()


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["sync", "async"])
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume_finishes_without_duplicates(
    point: str, durability: str, tmp_path: Path
) -> None:
    db = tmp_path / "backend.sqlite"
    token = "cg-local-sigkill-test-token"
    _busy_backend(db, token, 4242)
    with LocalServer(token=token, org_id=4242, time_scale=SCALE, db=db) as server:
        env = _clean_env(server)
        checkpoint = f"sqlite:{tmp_path / 'checkpoints.sqlite'}"
        args = ["run", SPEC, "--checkpoint", checkpoint, "--thread", "crash-1", "--json"]
        args += ["--durability", durability, "--time-scale", f"{SCALE:g}"]
        proc = _cli_process(args, env)
        _wait_for(lambda: os.path.exists(tmp_path / "checkpoints.sqlite"), proc, "a checkpoint")
        _wait_for(lambda: KILL_POINTS[point](server.stats()), proc, point)
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL

        resume = _resume_args(err)
        if durability != "sync":  # the printed command keeps the durability
            assert resume[resume.index("--durability") + 1] == durability
        report = _finish(resume, env)
        stats = server.stats()
    assert report["verdict"] == "passed"
    assert stats["duplicates"] == 0
    assert stats["runs_created"] == 3, stats
    assert stats["runs_total"] == BUSY_ORG_RUNS + 3
    assert stats["runs_resumed"] == 0


@pytest.mark.slow
@pytest.mark.timeout(3 * HUNG)
def test_ctrl_c_prints_the_resume_command_that_finishes_the_thread(
    tmp_path: Path, sigint_reaches_children: None
) -> None:
    with LocalServer(time_scale=SCALE) as server:
        env = _clean_env(server)
        checkpoint = f"sqlite:{tmp_path / 'checkpoints.sqlite'}"
        args = ["run", SPEC, "--checkpoint", checkpoint, "--time-scale", f"{SCALE:g}", "--json"]
        proc = _cli_process(args, env)
        _wait_for(lambda: server.stats()["runs_created"] >= 1, proc, "the first run")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=HUNG)
        assert proc.returncode == 130, err
        assert "interrupted" in err
        assert "Traceback" not in err
        resume = _resume_args(err)
        assert "--thread" in resume

        report = _finish(resume, env)
        stats = server.stats()
    assert report["verdict"] == "passed"
    assert stats["duplicates"] == 0
    assert stats["runs_created"] == 3


def test_a_checkpoint_on_the_embedded_backend_keeps_its_runs_beside_it(
    cli: Cli, tmp_path: Path
) -> None:
    # Without a backend database, a resumed thread would name runs a fresh backend never had.
    cp = tmp_path / "cp.sqlite"
    result = cli.local(
        "run", SPEC, "--checkpoint", f"sqlite:{cp}", "--thread", "t-3", env={"CODEGEN_LOCAL_DB": ""}
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stderr.splitlines() if "resume with: " in x)
    command = shlex.split(line.split("resume with: ", 1)[1].rstrip(")"))
    assert command[command.index("--local-db") + 1] == f"{cp}.local.sqlite"
    assert Path(f"{cp}.local.sqlite").exists()
