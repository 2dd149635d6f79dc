"""Fixtures for the CLI tests: an environment that selects the embedded local backend."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from codegen_graph.cli import app
from codegen_graph.local import LocalCodegen, Outcome, RunContext, Step

#: Simulated seconds per real second: a 60-second scripted run takes 60 ms.
SCALE = "1000"

_ENV = (
    "CODEGEN_API_TOKEN",
    "CODEGEN_TOKEN",
    "CODEGEN_ORG_ID",
    "CODEGEN_API_BASE_URL",
    "CODEGEN_LOCAL_DB",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_RUN_ID",
    "GITLAB_CI",
    "GITLAB_TOKEN",
    "CI_API_V4_URL",
    "CI_SERVER_URL",
    "CI_PROJECT_ID",
    "CI_MERGE_REQUEST_PROJECT_PATH",
    "CI_MERGE_REQUEST_IID",
    "CI_PIPELINE_ID",
)


class Cli:
    """Invokes ``codegen-graph`` in process against one local database."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), env=env, catch_exceptions=False)

    def local(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run a command on the embedded backend, fast."""
        return self(*args, "--time-scale", SCALE, env=env)

    def json(self, *args: str) -> Any:
        result = self.local(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


class SeedBehavior:
    def __init__(self, status: str, duration: float) -> None:
        self.status, self.duration = status, duration

    def plan(self, ctx: RunContext) -> Outcome:
        return Outcome(
            status=self.status,
            result=f"{self.status.lower()}: {ctx.prompt}",
            steps=(Step("PLAN_EVALUATION", thought="try"),),
            duration=self.duration,
        )


def seed_run(cli: Cli, *, status: str = "FAILED", duration: float = 30.0) -> int:
    """A run created in the CLI's database by a backend with a chosen behaviour."""
    behavior = SeedBehavior(status, duration)
    local = LocalCodegen(db=cli.db, behavior=behavior, time_scale=float(SCALE))
    with local, local.client() as client:
        return client.agent_runs.create("seeded").id


#: Simulated seconds that stay far from over during a test (10^7 s is ~3 real hours).
FOREVER = 1e7


def stderr_lines(result: Result) -> Sequence[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "local.db"
    monkeypatch.setenv("CODEGEN_LOCAL_DB", str(db))
    return Cli(db)


@dataclass
class FakeForge:
    """A loopback stand-in of a forge's API (GitHub, GitLab): records every POST and
    answers ``status`` with ``answer(path)``, or ``refusal`` for an error status."""

    answer: Callable[[str], dict[str, Any]]
    refusal: dict[str, Any]
    url: str = ""
    status: int = 201
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def serve_forge(
    answer: Callable[[str], dict[str, Any]], refusal: dict[str, Any]
) -> Iterator[FakeForge]:
    fake = FakeForge(answer, refusal)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
            reply = fake.refusal if fake.status >= 400 else fake.answer(self.path)
            data = json.dumps(reply).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_install_step(
    script: str,
    env: dict[str, str],
    tmp_path: Path,
    commit: str | None,
    repository: str | None,
    *,
    shell: str,
) -> tuple[subprocess.CompletedProcess[str], list[str] | None]:
    """A template's install step, run by ``shell`` with a stand-in pip that records its
    arguments; returns the process and pip's arguments (``None``: pip never ran)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "pip-calls"
    pip = bin_dir / "pip"
    pip.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {calls}\n')
    pip.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", **env}
    if commit is not None:
        env["CODEGEN_GRAPH_COMMIT"] = commit
    if repository is not None:
        env["CODEGEN_GRAPH_REPOSITORY"] = repository
    proc = subprocess.run([shell, "-e", "-c", script], env=env, capture_output=True, text=True)
    return proc, calls.read_text().splitlines() if calls.exists() else None


#: (commit, repository, installs): the template as shipped (placeholders), a tag (it can
#: move), a commit without a repository, and a proper pin.
INSTALL_CASES = [
    (None, None, False),
    ("v1.0", "https://github.com/acme/codegen-graph", False),
    ("a" * 40, None, False),
    ("0123456789abcdef0123456789abcdef01234567", "https://github.com/acme/codegen-graph", True),
]
