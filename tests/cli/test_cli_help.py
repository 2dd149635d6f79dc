"""The CLI's help and its first-contact errors: what a newcomer types first."""

from __future__ import annotations

import http.server
import re
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

COMMANDS = [[], ["run"], ["serve"], ["review-pr"], ["runs"]]
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
BACKEND_COMMANDS = [["run"], ["review-pr"], *(["runs", c] for c in RUNS)]


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
