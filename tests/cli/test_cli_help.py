"""The CLI's help and its first-contact errors: what a newcomer types first."""

from __future__ import annotations

import http.server
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from codegen_graph.cli import app
from codegen_graph.cli._common import FROM_OPTIONS, BackendOptions, backend_options

from .conftest import Cli

COMMANDS = [[], ["run"], ["serve"], ["review-pr"], ["review-mr"], ["runs"]]
RUNS = ["list", "get", "logs", "wait", "resume", "stop", "create", "stats"]


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "-h"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("args", [*COMMANDS, *(["runs", c] for c in RUNS)])
def test_dash_h_is_help_and_flags_show_no_value_type(args: list[str]) -> None:
    text = _help(*args)
    assert "Usage: codegen-graph" in text
    assert "<bool>" not in text  # --json, --local, --help... take no value
    assert "-h" in text


def test_runs_help_names_exactly_its_commands() -> None:
    text = " ".join(_help("runs").split())
    sentence = re.search(r"Agent runs of your organisation: ([a-z, -]+)\.", text)
    assert sentence is not None, text
    named = [w.strip() for w in sentence.group(1).split(",")]
    listed = re.findall(r"│ (\w[\w-]*) {2,}", _help("runs"))
    assert sorted(named) == sorted(RUNS) == sorted(listed)


def test_run_without_a_task_says_what_to_type(cli: Cli) -> None:
    result = cli("run")
    assert result.exit_code == 2
    assert result.stderr.startswith('error: say what to build: codegen-graph run "')
    assert "nothing to resume" not in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unwritable_checkpoint_fails_before_anything_starts(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    checkpoint = f"sqlite:{blocker / 'cp.sqlite'}"  # a path under a file: never writable
    result = cli.local("run", "Add a /health endpoint", "--checkpoint", checkpoint)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: cannot write the checkpoint file"), lines
    assert lines[1] == "hint: choose a writable --checkpoint sqlite:PATH"
    assert "resume with" not in result.stderr
    assert "bug" not in result.stderr
    assert "thread " not in result.stderr  # no thread was announced: none started


@pytest.fixture
def plain_http() -> Iterator[str]:
    """A plain-HTTP server on loopback (what `codegen-graph serve` is)."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_https_against_a_plain_http_server_says_use_http(cli: Cli, plain_http: str) -> None:
    args = ["--base-url", f"https://{plain_http}", "--token", "tok-test-12345678", "--org-id", "1"]
    result = cli("runs", "list", *args, "--time-scale", "1000")
    assert result.exit_code == 4, result.output
    hint = result.stderr.splitlines()[-1]
    assert hint.startswith("hint: the TLS handshake failed")
    assert "http://" in hint and "try again later" not in hint


SHARED = ["--base-url", "--token", "--org-id", "--time-scale", "--local-db", "--local"]
BACKEND_COMMANDS = [["run"], ["review-pr"], ["review-mr"], *(["runs", c] for c in RUNS)]


@pytest.mark.parametrize("args", BACKEND_COMMANDS, ids=" ".join)
def test_every_api_command_takes_the_backend_options_after_its_name(args: list[str]) -> None:
    import typer.main

    command: Any = typer.main.get_command(app)
    for name in args:
        command = command.commands[name]
    declared = {opt for param in command.params for opt in param.opts}
    assert set(SHARED) <= declared


def test_backend_options_are_defined_once_and_reach_the_command() -> None:
    seen: list[BackendOptions] = []
    demo = typer.Typer()

    @demo.command()
    @backend_options()
    def show(count: int = 1, options: BackendOptions = FROM_OPTIONS) -> None:
        seen.append(options)

    result = CliRunner().invoke(
        demo, ["--count", "2", "--org-id", "5", "--local", "--time-scale", "9"]
    )
    assert result.exit_code == 0, result.output
    assert seen == [BackendOptions(org_id=5, time_scale=9.0, local=True)]


# -- one hint per kind of mistake, in the CLI's words ----------------------------------------

SPEC = "Add a /health endpoint"
TOKEN = "cg-hint-test-0123456789"
ORG_HINT = (
    "hint: pass --org-id N or set CODEGEN_ORG_ID=N (your organisation's id in Codegen's settings)"
)
BUNDLED = "flaky_agent, tests_fail_once, typed_output_repair"
HINT_CASES = {
    "misspelled scenario": (
        ["run", SPEC, "--local", "--scenario", "tests_fail_onc"],
        {},
        "error: --scenario 'tests_fail_onc' is neither a file nor a bundled scenario",
        f"hint: --scenario takes a scenario file (JSON or YAML) or a bundled name: {BUNDLED}",
    ),
    "bad durability": (
        ["run", SPEC, "--durability", "bogus"],
        {},
        "error: --durability does not take 'bogus'",
        "hint: --durability takes sync (the default), async or exit",
    ),
    "bad checkpoint": (
        ["run", SPEC, "--checkpoint", "postgres:x"],
        {},
        "error: --checkpoint must look like sqlite:PATH, got 'postgres:x'",
        "hint: --checkpoint takes sqlite:PATH, for example sqlite:run.sqlite",
    ),
    "bad time scale": (
        ["runs", "list", "--local", "--time-scale", "0"],
        {},
        "error: --time-scale must be > 0, got 0",
        "hint: --time-scale takes simulated seconds per real second, a number > 0 (default 60)",
    ),
    "missing org id": (
        ["runs", "list"],
        {"CODEGEN_API_TOKEN": TOKEN},
        "error: No Codegen organisation id: pass --org-id or set the CODEGEN_ORG_ID "
        "environment variable.",
        ORG_HINT,
    ),
    "missing org id, run": (
        ["run", SPEC],
        {"CODEGEN_API_TOKEN": TOKEN},
        "error: No Codegen organisation id: pass --org-id or set the CODEGEN_ORG_ID "
        "environment variable.",
        ORG_HINT,
    ),
    "bad org id": (
        ["runs", "list"],
        {"CODEGEN_API_TOKEN": TOKEN, "CODEGEN_ORG_ID": "acme"},
        "error: --org-id (or CODEGEN_ORG_ID) must be a positive integer, got 'acme'",
        ORG_HINT,
    ),
    "missing token": (
        ["runs", "list", "--base-url", "https://codegen.example.com", "--org-id", "1"],
        {},
        "error: No Codegen API token: pass --token or set the CODEGEN_API_TOKEN environment "
        "variable (CODEGEN_TOKEN is also read).",
        "hint: set CODEGEN_API_TOKEN (or pass --token) to a token from Codegen's settings; "
        "--local uses the embedded backend instead",
    ),
    "plain http base url": (
        ["runs", "list", "--token", TOKEN, "--org-id", "1", "--base-url", "http://example.com"],
        {},
        "error: Refusing plain http:// to 'example.com': the API token would travel in clear "
        "text. Use https://, or http:// only for a loopback host (127.0.0.1, ::1, localhost).",
        "hint: fix --base-url or CODEGEN_API_BASE_URL, or unset both for https://api.codegen.com",
    ),
}


@pytest.mark.parametrize("case", list(HINT_CASES))
def test_each_kind_of_mistake_has_its_own_hint(cli: Cli, case: str) -> None:
    args, env, error, hint = HINT_CASES[case]
    result = cli(*args, env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-2:] == [error, hint]
    assert "=..." not in result.stderr  # the library's words (org_id=...) stay in the library
    assert "Traceback" not in result.stderr


def _without_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.sqlite.aio", None)


SETUP_ERRORS: dict[str, tuple[list[str], dict[str, str], str]] = {
    "no sqlite extra": (["--local"], {}, "error: --checkpoint needs langgraph-checkpoint-sqlite"),
    "misspelled scenario": (["--local", "--scenario", "nope"], {}, "error: --scenario 'nope'"),
    "missing org id": ([], {"CODEGEN_API_TOKEN": TOKEN}, "error: No Codegen organisation id"),
}


@pytest.mark.parametrize("case", list(SETUP_ERRORS))
def test_a_setup_error_starts_and_writes_nothing(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    args, env, error = SETUP_ERRORS[case]
    if case == "no sqlite extra":
        _without_sqlite(monkeypatch)
    where = tmp_path / "run"
    where.mkdir()
    checkpoint = f"sqlite:{where / 'cp.sqlite'}"
    result = cli(
        "run", SPEC, "--checkpoint", checkpoint, *args, env={**env, "CODEGEN_LOCAL_DB": ""}
    )
    assert result.exit_code == 2, result.output
    assert list(where.iterdir()) == []  # no checkpoint database, no backend database beside it
    lines = result.stderr.splitlines()
    assert lines[-2].startswith(error), lines
    assert "thread " not in result.stderr and "resume with" not in result.stderr


def test_without_the_sqlite_extra_the_hint_says_what_to_install(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_sqlite(monkeypatch)
    result = cli.local("run", SPEC, "--checkpoint", f"sqlite:{tmp_path / 'cp.sqlite'}")
    assert result.stderr.splitlines()[-1] == (
        "hint: install the sqlite extra (from a checkout: pip install '.[sqlite]'), or leave "
        "out --checkpoint"
    )
