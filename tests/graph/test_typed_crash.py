"""SIGKILL during a repair resume of a typed result, then resume the thread: the same run
finishes its repairs; no second run, no second resume of any attempt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codegen_graph import CodegenClient
from codegen_graph.local import LocalServer

from ._typed_crash import Change, run

HERE = Path(__file__).resolve().parent
SCALE = 40.0
# The bundled typed_output_repair scenario, with a first repair long enough (3 real seconds)
# for the kill to land inside it even on a loaded machine.
SCENARIO = {
    "name": "typed_crash",
    "rules": [
        {
            "match": "(?i)typed",
            "count": "run",
            "attempts": [
                {"duration": 40, "result": "Done: see the pull request."},
                {"duration": 120, "result": '```json\n{"unexpected": true}\n```'},
                {"duration": 20},
            ],
        }
    ],
}


def _wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(
                f"the child ended before {what}: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)  # polling another process's progress


@pytest.mark.slow
def test_sigkill_during_a_repair_resume_then_resume_the_thread(tmp_path: Path) -> None:
    db = str(tmp_path / "checkpoints.sqlite")
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO), encoding="utf-8")
    with LocalServer(time_scale=SCALE, scenario=str(scenario)) as server:
        env = {**os.environ, **server.env(), "LANGSMITH_TRACING": "false"}
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "_typed_crash.py"), db, "crash-typed"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        client = CodegenClient(server.token, server.org_id, base_url=server.base_url)
        with client:
            # Stats are read without touching the API's rate budget.
            _wait_for(lambda: server.stats()["runs_resumed"] >= 1, proc, "the first repair")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            assert server.stats()["runs_resumed"] == 1
            (current,) = client.agent_runs.list().items
            assert current.status is not None and not current.status.is_terminal  # mid-repair

            state = run(client, db, "crash-typed", resume=True)
        stats = server.stats()
    record = state["runs"]["code"]
    assert Change.model_validate(record["output"]).files_changed
    assert record["output_attempts"] == 3
    assert (stats["runs_created"], stats["runs_resumed"], stats["duplicates"]) == (1, 2, 0)
