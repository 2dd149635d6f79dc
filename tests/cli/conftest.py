"""Fixtures for the CLI tests: an environment that selects the embedded local backend."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
