"""``langgraph dev`` loads ``langgraph.json`` and runs the feature workflow end to end.

The in-memory LangGraph server (langgraph-cli[inmem]) is started on 127.0.0.1 in its own
process group, with every outbound call it knows of turned off (version check, CLI
analytics, LangSmith tracing, license metadata). ``langgraph_sdk`` creates a thread, runs
the ``feature`` graph on the embedded local Codegen backend and reads the final state.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis  # noqa: F401  (see below)
import pytest

from codegen_graph.local import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
TASK = "Add a /health endpoint that returns the service version"
STARTUP_TIMEOUT = 40.0  # real seconds: a cold start imports langgraph_api (~3-8 s here)
RUN_TIMEOUT = 30.0

pytestmark = pytest.mark.slow

# hypothesis is imported up front on purpose: run alone, this file otherwise makes pytest's
# assertion rewriter parse hypothesis at session end, where CPython 3.11.7 raises
# "SystemError: AST constructor recursion depth mismatch" (the test itself has passed).

# Everything langgraph-cli / langgraph_api could reach out to, switched off.
OFFLINE_ENV = {
    "LANGGRAPH_NO_VERSION_CHECK": "true",  # langgraph_api.cli: PyPI version check
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # langgraph_cli.analytics: usage ping
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING_V2": "false",
    "CODEGEN_GRAPH_TIME_SCALE": "600",  # simulated minutes pass in a tenth of a second
}
# metadata_loop (langgraph_api.metadata) only phones home with a license or control-plane
# key; the Codegen token would make the factory use the real API.
UNSET_ENV = (
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_ENDPOINT",
    "CODEGEN_API_TOKEN",
    "CODEGEN_TOKEN",
    "CODEGEN_ORG_ID",
    "CODEGEN_API_BASE_URL",
    "CODEGEN_GRAPH_SUPERVISOR_MODEL",  # the supervisor must fail clearly without a model
)


def _langgraph_cli() -> str:
    exe = Path(sys.executable).with_name("langgraph")
    if exe.exists():
        return str(exe)
    found = shutil.which("langgraph")
    if found is None:
        pytest.skip("langgraph-cli is not installed: pip install 'langgraph-cli[inmem]'")
    return found


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("langgraph-dev")
    pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem]")
    pytest.importorskip("langgraph_sdk")
    port = free_loopback_port()
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    env.update(OFFLINE_ENV)
    log = (tmp_path / "langgraph-dev.log").open("wb")
    cmd = [_langgraph_cli(), "dev", "--no-browser", "--no-reload", "--config", "langgraph.json"]
    cmd[-1] = str(ROOT / "langgraph.json")
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,  # as in a fresh clone: the server keeps its state in ./.langgraph_api
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, killed as one below
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{_tail(tmp_path)}")
            try:
                if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not healthy in {STARTUP_TIMEOUT}s:\n{_tail(tmp_path)}")
            time.sleep(0.2)  # real process start-up; nothing virtual to wait on
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        _check_log(tmp_path)


def _tail(tmp_path: Path, chars: int = 4000) -> str:
    return (tmp_path / "langgraph-dev.log").read_text(errors="replace")[-chars:]


def _check_log(tmp_path: Path) -> None:
    text = (tmp_path / "langgraph-dev.log").read_text(errors="replace")
    # Blocking calls on the server's event loop are errors under `langgraph dev`.
    assert "BlockingError" not in text, _tail(tmp_path)
    # Opening the supervisor without a model, or running it, logs no traceback.
    assert "Traceback" not in text, _tail(tmp_path)
    # Quiet by default: every outbound call is off here, so an httpx request line could
    # only be the Codegen client's (one per poll: a hundred for two runs).
    assert "HTTP Request:" not in text, _tail(tmp_path)


async def _open_every_graph(client: Any) -> dict[str, Any]:
    """What Studio does first: list the graphs, then open each (schemas and drawing), twice."""
    opened: dict[str, Any] = {}
    for assistant in await client.assistants.search():
        aid = assistant["assistant_id"]
        schemas, graph = (
            await client.assistants.get_schemas(aid),
            await client.assistants.get_graph(aid),
        )
        started = time.monotonic()
        await client.assistants.get_schemas(aid)
        await client.assistants.get_graph(aid)
        again = time.monotonic() - started
        opened[assistant["graph_id"]] = {"schemas": schemas, "graph": graph, "again": again}
    return opened


async def _run_feature(url: str) -> dict[str, object]:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    opened = await _open_every_graph(client)
    assistants = await client.assistants.search(graph_id="feature")
    assert assistants, "langgraph.json exports the 'feature' graph"
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "feature", input={"task": TASK})
    await asyncio.wait_for(client.runs.join(thread["thread_id"], run["run_id"]), RUN_TIMEOUT)
    finished = await client.runs.get(thread["thread_id"], run["run_id"])
    assert finished["status"] == "success", finished
    state = await client.threads.get_state(thread["thread_id"])
    # The supervisor is exported too; without CODEGEN_GRAPH_SUPERVISOR_MODEL its run ends
    # with one message saying what to set (and the feature graph above is unaffected).
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "supervisor", input={"task": TASK})
    joined = await asyncio.wait_for(
        client.runs.join(thread["thread_id"], run["run_id"]), RUN_TIMEOUT
    )
    ended = await client.runs.get(thread["thread_id"], run["run_id"])
    return {"state": state, "opened": opened, "supervisor": (ended["status"], joined)}


def test_langgraph_dev_runs_the_feature_workflow(dev_server: str) -> None:
    started = time.monotonic()
    out = asyncio.run(_run_feature(dev_server))
    state = out["state"]
    assert isinstance(state, dict)
    assert state["next"] == []
    report = state["values"]["report"]
    assert report["verdict"] == "passed"
    assert report["pr_urls"] and all(u.startswith("http") for u in report["pr_urls"])
    assert set(report["agents"]) == {"code", "tests", "docs"}
    assert all(a["status"] == "COMPLETE" for a in report["agents"].values())
    # Studio lists the feature workflow first, and every graph opens and draws (the
    # supervisor without a model too), quickly once loaded (the factories cache).
    opened = out["opened"]
    assert isinstance(opened, dict)
    assert list(opened) == ["feature", "supervisor"]
    nodes = {n: {x["id"] for x in o["graph"]["nodes"]} for n, o in opened.items()}
    assert {"code", "tests", "docs", "gate", "fix", "report"} <= nodes["feature"]
    assert {"supervisor", "tools", "record", "report"} <= nodes["supervisor"]
    assert all(o["schemas"]["input_schema"]["properties"] for o in opened.values())
    assert all(o["again"] < 1.0 for o in opened.values()), opened
    status, joined = out["supervisor"]  # type: ignore[misc]
    assert status == "success", joined
    answer = joined["report"]["answer"]
    assert "CODEGEN_GRAPH_SUPERVISOR_MODEL" in answer and joined["report"]["agents"] == {}
    assert time.monotonic() - started < RUN_TIMEOUT


OPTIONS = {"require_approval": True, "max_iterations": 2}


async def _thread_state(client: Any, thread_id: str, run: dict[str, Any]) -> dict[str, Any]:
    await asyncio.wait_for(client.runs.join(thread_id, run["run_id"]), RUN_TIMEOUT)
    finished = await client.runs.get(thread_id, run["run_id"])
    assert finished["status"] == "success", finished
    state: dict[str, Any] = await client.threads.get_state(thread_id)
    return state


def _waiting_for_approval(state: dict[str, Any]) -> dict[str, Any]:
    assert state["next"] == ["approval"], state["next"]
    assert "report" not in state["values"]
    (task,) = state["tasks"]
    (pending,) = task["interrupts"]
    question: dict[str, Any] = pending["value"]
    assert question["question"] == "Approve the change?"
    return question


async def _approval_paths(url: str) -> dict[str, Any]:
    """Each path on its own thread: options go with the first run only, as Studio does."""
    from langgraph_sdk import get_client

    client = get_client(url=url)
    (assistant,) = await client.assistants.search(graph_id="feature")
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])

    async def start() -> str:
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "feature", input={"task": TASK}, context=OPTIONS)
        _waiting_for_approval(await _thread_state(client, thread, run))
        return thread

    async def resume(thread: str, decision: Any) -> dict[str, Any]:
        run = await client.runs.create(thread, "feature", command={"resume": decision})
        return await _thread_state(client, thread, run)

    approved = await resume(await start(), True)
    thread = await start()
    again = await resume(thread, {"approve": False, "feedback": "rename the field"})
    asked_again = _waiting_for_approval(again)
    then_approved = await resume(thread, True)
    thread = await start()
    _waiting_for_approval(await resume(thread, {"approve": False, "feedback": "rename it"}))
    exhausted = await resume(thread, {"approve": False, "feedback": "still wrong"})
    return {
        "schemas": schemas,
        "approved": approved,
        "again": again,
        "asked_again": asked_again,
        "then_approved": then_approved,
        "exhausted": exhausted,
    }


def test_langgraph_dev_schemas_and_approval_paths(dev_server: str) -> None:
    out = asyncio.run(_approval_paths(dev_server))
    schemas = out["schemas"]
    # Studio's input form: the task only; its context form: the options.
    assert set(schemas["input_schema"]["properties"]) == {"task"}
    assert schemas["input_schema"]["required"] == ["task"]
    context = schemas["context_schema"]["properties"]
    assert set(context) == {"max_iterations", "require_approval", "repo_id"}
    assert all(p.get("description") for p in context.values())
    defaults = {name: p.get("default", "unset") for name, p in context.items()}
    assert defaults == {"max_iterations": 3, "require_approval": False, "repo_id": None}

    assert out["approved"]["values"]["report"]["verdict"] == "approved"
    # Rejected: the code agent got the feedback, the tests ran again, the reviewer is asked
    # again (the resume run carried no options), then approves.
    again = out["again"]["values"]
    assert again["iterations"]["code"] == 2
    assert again["runs"]["code"]["result"].endswith("addressing the feedback: rename the field")
    assert out["asked_again"]["summaries"]["code"].endswith("(revised)")
    assert out["then_approved"]["values"]["report"]["verdict"] == "approved"
    # Rejected with no iteration left: the thread ends rejected, never passed.
    exhausted = out["exhausted"]
    assert exhausted["next"] == []
    assert exhausted["values"]["report"]["verdict"] == "rejected"
    assert exhausted["values"]["report"]["iterations"]["code"] == 2
