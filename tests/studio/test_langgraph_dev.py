"""``langgraph dev`` loads ``langgraph.json`` and runs the feature workflow end to end.

``langgraph dev`` runs offline on 127.0.0.1 (``tests/studio/_dev.py``); ``langgraph_sdk``
creates a thread, runs the ``feature`` graph on the embedded local Codegen backend and reads
the final state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ._dev import langgraph_dev

TASK = "Add a /health endpoint that returns the service version"
RUN_TIMEOUT = 30.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with langgraph_dev(tmp_path_factory.mktemp("langgraph-dev")) as dev:
        yield dev.url


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
    assert list(opened) == ["feature", "codegen", "supervisor"]
    nodes = {n: {x["id"] for x in o["graph"]["nodes"]} for n, o in opened.items()}
    assert {"code", "tests", "docs", "gate", "fix", "report"} <= nodes["feature"]
    assert "codegen" in nodes["codegen"]  # codegen_agent(name="codegen"): one node
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
