"""A canary token drives a full feature workflow (with forced errors); it must show up
nowhere: logs at DEBUG for every logger (httpx, httpcore included), stdout/stderr, exception
texts, LangSmith sink payloads, graph state, and the SQLite checkpoint file."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from codegen_graph import AsyncCodegenClient, CodegenError
from codegen_graph.clock import ManualClock
from codegen_graph.graph import codegen_retry_policy, feature_workflow
from codegen_graph.local import Faults, LocalCodegen, LocalServer, RouteFaults
from codegen_graph.observability import LangSmithSink, Redactor, tracing

CANARY = "cg-canary-7f3a9c1e5b2d4680-security"
VARIANT = CANARY[:-1] + "X"  # a wrong token that differs from the canary in one character
TASK = "Add a /health endpoint that returns the service version"


def _assert_clean(label: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in (CANARY, VARIANT):
        assert secret.encode() not in data, f"token found in {label}"


@pytest.fixture
def sink() -> Iterator[LangSmithSink]:
    with LangSmithSink() as s:
        yield s


async def test_canary_absent_everywhere_after_a_full_workflow_and_errors(
    tmp_path: Path,
    sink: LangSmithSink,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records
    for name in ("httpx", "httpcore", "codegen_graph", "langsmith", "langgraph"):
        caplog.set_level(logging.DEBUG, logger=name)
    # Faults on the way: a 429 storm at the start, timeouts and drops on reads.
    faults = Faults(
        routes={
            "create": RouteFaults(storms=((0.0, 5.0),), timeout_rate=0.3),
            "*": RouteFaults(error_rate=0.2, drop_rate=0.1),
        },
        seed=11,
    )
    errors: list[BaseException] = []
    db = tmp_path / "checkpoints.sqlite"
    with LocalCodegen(
        token=CANARY, clock=ManualClock(), scenario="tests_fail_once", faults=faults
    ) as local:
        async with (
            local.async_client(max_retries=8, circuit_breaker=False) as client,
            AsyncSqliteSaver.from_conn_string(str(db)) as saver,
        ):
            graph = feature_workflow(
                client=client, retry_policy=codegen_retry_policy(initial_interval=0.001)
            ).compile(checkpointer=saver, name="feature")
            config = {"configurable": {"thread_id": "canary"}}
            with tracing(endpoint=sink.url, api_key="fake-langsmith-key", redactor=Redactor()):
                await graph.ainvoke({"task": TASK}, config, durability="sync")
            state = await graph.aget_state(config)
            history = [s async for s in graph.aget_state_history(config)]
        assert state.values["report"]["verdict"] == "passed"
        stats = local.stats()
        assert stats["faults"]["create"]["storm"] >= 1  # the forced errors really happened
        assert sum(f.get("error", 0) for f in stats["faults"].values()) >= 1

        # Forced errors the caller sees: 401 (a token one character off), 429, timeouts.
        async with AsyncCodegenClient(
            VARIANT, local.org_id, base_url=local.base_url, transport=local.async_transport()
        ) as wrong:
            try:
                await wrong.agent_runs.list()
            except CodegenError as exc:
                errors.append(exc)
        storm = Faults(routes={"*": RouteFaults(storms=((0.0, 1e9),))})
        timeouts = Faults(routes={"*": RouteFaults(timeout_rate=1.0)})
        for bad in (storm, timeouts):
            with LocalCodegen(token=CANARY, clock=ManualClock(), faults=bad) as faulty:
                async with faulty.async_client(max_retries=1) as c:
                    try:
                        await c.agent_runs.create("x")
                    except CodegenError as exc:
                        errors.append(exc)
    assert [type(e).__name__ for e in errors] == [
        "AuthenticationError",
        "RateLimitError",
        "APITimeoutError",
    ]
    for exc in errors:
        for part in (str(exc), repr(exc), repr(vars(exc)), str(exc.__cause__), repr(exc.args)):
            _assert_clean(f"{type(exc).__name__} text", part)

    assert sink.wait_for(lambda s: any(n.name == "feature" for n in s.tree()))
    assert sink.raw_payloads  # the sink did receive the traces
    for payload in sink.raw_payloads:
        _assert_clean("a LangSmith payload", payload)
    assert not sink.contains(CANARY)

    _assert_clean("graph state", repr(state.values))
    for snapshot in history:
        _assert_clean("a checkpoint snapshot", repr(snapshot))
    files = list(tmp_path.glob("checkpoints.sqlite*"))
    assert db in files and b"agent_run_id" in db.read_bytes()  # the state really is stored
    for file in files:
        _assert_clean(file.name, file.read_bytes())

    assert any(r.name.startswith("httpx") for r in caplog.records)  # httpx did log
    _assert_clean("logs", caplog.text)
    for record in caplog.records:
        _assert_clean("a log record", record.getMessage())
    out, err = capsys.readouterr()
    _assert_clean("stdout", out)
    _assert_clean("stderr", err)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(token=CANARY, time_scale=1000.0) as srv:
        yield srv


def _cli(server: LocalServer, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CODEGEN_", "LANG"))},
        "CODEGEN_API_TOKEN": token,
        "CODEGEN_ORG_ID": str(server.org_id),
        "CODEGEN_API_BASE_URL": server.base_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "codegen_graph", "--debug", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_output_never_shows_the_token(server: LocalServer) -> None:
    created = _cli(server, CANARY, "runs", "create", TASK, "--json")
    assert created.returncode == 0, created.stderr
    assert '"id"' in created.stdout
    waited = _cli(server, CANARY, "runs", "list")
    assert waited.returncode == 0, waited.stderr
    rejected = _cli(server, VARIANT, "runs", "list")
    assert rejected.returncode != 0
    assert "401" in rejected.stderr or "token" in rejected.stderr.lower()
    assert "-> 200" in created.stderr  # --debug really logs each request
    for result in (created, waited, rejected):
        _assert_clean("CLI stdout", result.stdout)
        _assert_clean("CLI stderr", result.stderr)
