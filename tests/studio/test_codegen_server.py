"""The ``codegen`` graph on LangGraph's Agent Server (``langgraph dev`` serving langgraph.json).

Driven through ``langgraph_sdk`` as any Agent Protocol client (and Deep Agents' async
subagents) would. The server's "real API" is our own ``codegen-graph serve`` (a
``LocalServer`` on simulated time), so the test reads the Codegen runs the server made:
an update reaches the same run, a cancel stops it.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graph._scripted import ScriptedSupervisor, calls, tool_call  # tests/ is on sys.path
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from codegen_graph import CodegenClient
from codegen_graph.clock import ScaledClock
from codegen_graph.local import LocalServer
from codegen_graph.models import AgentRunResponse

from ._dev import langgraph_dev

pytestmark = pytest.mark.slow

SCALE = 60.0  # simulated seconds per real second, for the backend and the server's client
WAIT = 60.0  # real seconds any condition may take, however loaded the machine
# Durations in simulated seconds; a rule applies by the run's first message, and each
# message to the run (create, resumes) is the next attempt. {feedback}: a resume's message.
SCENARIO = {
    "name": "agent server",
    "rules": [
        {"match": "slow", "count": "run", "attempts": [
            {"duration": 36000, "result": "Working on: {prompt}"},
            {"duration": 60, "result": "Did: {feedback}"},
        ]},
        {"match": "in stages", "count": "run", "attempts": [
            {"duration": 120, "result": "Did: {prompt}"},
            {"duration": 120, "result": "Did: {feedback}"},
            {"duration": 36000, "result": "Working on: {feedback}"},
        ]},
        {"match": "health", "count": "run", "attempts": [{"duration": 300}]},
        # long enough to read the thread busy while the run works, however loaded the machine
        {"match": "a long task", "count": "run", "attempts": [{"duration": 1200}]},
    ],
}  # fmt: skip


@dataclass
class Served:
    url: str  # langgraph dev
    backend: LocalServer  # what the server calls the Codegen API
    codegen: CodegenClient  # the test's own view of that backend
    env: dict[str, str]  # what points a langgraph dev at the backend

    def runs_of(self, thread_id: str) -> list[AgentRunResponse]:
        """The Codegen runs the server created for one of its threads."""
        listed = self.codegen.agent_runs.list(limit=100).items
        return [r for r in listed if (r.metadata or {}).get("codegen_graph_thread") == thread_id]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("codegen-server")
    scenario = workdir / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    with LocalServer(time_scale=SCALE, scenario=str(scenario)) as backend:
        # A token and base URL: the factories take the backend for the real API, and keep
        # its time (CODEGEN_GRAPH_TIME_SCALE with CODEGEN_API_BASE_URL).
        env = {**backend.env(), "CODEGEN_GRAPH_TIME_SCALE": f"{SCALE:g}"}
        settings: dict[str, Any] = {"base_url": backend.base_url, "clock": ScaledClock(SCALE)}
        with (
            langgraph_dev(workdir, env) as dev,
            CodegenClient(backend.token, backend.org_id, **settings) as codegen,
        ):
            yield Served(dev.url, backend, codegen, env)


async def _until(what: str, check: Callable[[], Awaitable[Any]]) -> Any:
    """Wait (real time: another process's progress) until ``check()`` is truthy."""
    deadline = time.monotonic() + WAIT
    while not (found := await check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT:g}s: {what}")
        await asyncio.sleep(0.2)  # 12 simulated s: a few of the token's standard calls
    return found


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def _active_run(served: Served, thread_id: str) -> AgentRunResponse:
    def active() -> Any:
        runs = served.runs_of(thread_id)
        return runs[0] if runs and not runs[0].status.is_terminal else None

    found: AgentRunResponse = await _until(
        "the Codegen run is working", lambda: asyncio.to_thread(active)
    )
    return found


def _answer(thread: dict[str, Any]) -> dict[str, Any]:
    last: dict[str, Any] = thread["values"]["messages"][-1]
    assert last["type"] == "ai" and last["name"] == "codegen", last
    return last


def test_a_thread_is_busy_while_its_codegen_run_works_then_idle_with_the_answer(
    served: Served,
) -> None:
    from langgraph_sdk import get_client

    async def go() -> tuple[str, str, dict[str, Any], list[AgentRunResponse]]:
        client = get_client(url=served.url)
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(
            thread, "codegen", input=_user("a long task: add a /status endpoint")
        )
        working = await _active_run(served, thread)
        during = (await client.threads.get(thread))["status"]
        still = await asyncio.to_thread(served.codegen.agent_runs.get, working.id)
        assert not still.status.is_terminal, "read the thread while the Codegen run worked"
        await asyncio.wait_for(client.runs.join(thread, run["run_id"]), WAIT)
        done = await client.threads.get(thread)
        return during, done["status"], done, served.runs_of(thread)

    during, after, done, runs = asyncio.run(go())
    assert (during, after) == ("busy", "idle")
    (codegen_run,) = runs
    assert codegen_run.status == "COMPLETE"
    answer = _answer(done)
    assert answer["additional_kwargs"]["agent_run_id"] == codegen_run.id
    assert codegen_run.result and codegen_run.result in answer["content"]
    assert codegen_run.web_url and codegen_run.web_url in answer["content"]


def test_an_interrupting_update_reaches_the_same_codegen_run(served: Served) -> None:
    from langgraph_sdk import get_client

    async def go() -> tuple[AgentRunResponse, dict[str, Any], dict[str, Any], dict[str, Any]]:
        client = get_client(url=served.url)
        thread = (await client.threads.create())["thread_id"]
        first = await client.runs.create(thread, "codegen", input=_user("a slow migration"))
        working = await _active_run(served, thread)
        update = await client.runs.create(
            thread, "codegen", input=_user("do this instead"), multitask_strategy="interrupt"
        )
        await asyncio.wait_for(client.runs.join(thread, update["run_id"]), WAIT)
        replaced = await client.runs.get(thread, first["run_id"])
        return (
            working,
            replaced,
            await client.runs.get(thread, update["run_id"]),
            (await client.threads.get(thread)),
        )

    working, replaced, update, thread = asyncio.run(go())
    assert replaced["status"] == "interrupted" and update["status"] == "success"
    assert thread["status"] == "idle"
    answer = _answer(thread)
    assert answer["additional_kwargs"]["agent_run_id"] == working.id  # the same Codegen run
    (codegen_run,) = served.runs_of(thread["thread_id"])  # and no other for the thread
    assert codegen_run.id == working.id and codegen_run.status == "COMPLETE"
    assert codegen_run.result == "Did: do this instead"  # the backend got the new message
    assert "Did: do this instead" in answer["content"]
    assert served.backend.stats()["duplicates"] == 0


def test_runs_cancel_stops_the_codegen_run(served: Served) -> None:
    from langgraph_sdk import get_client

    async def go() -> tuple[AgentRunResponse, dict[str, Any]]:
        client = get_client(url=served.url)
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "codegen", input=_user("a slow rewrite"))
        working = await _active_run(served, thread)
        await client.runs.cancel(thread, run["run_id"])

        def stopped() -> Any:
            found = served.codegen.agent_runs.get(working.id)
            return found if found.status.is_terminal else None

        ended = await _until("the Codegen run ends", lambda: asyncio.to_thread(stopped))

        async def settled() -> bool:  # the server's own bookkeeping of the cancel
            return (await client.threads.get(thread))["status"] != "busy"

        await _until("the thread stops being busy", settled)
        return ended, await client.runs.get(thread, run["run_id"])

    ended, run = asyncio.run(go())
    assert ended.status == "STOPPED"
    # (the thread then reads "interrupted": its step was cut short; a new message resumes)
    assert run["status"] == "interrupted"


def test_a_worker_killed_mid_run_re_attaches_after_the_restart(
    served: Served, tmp_path: Path
) -> None:
    """SIGKILL the server while its node waits; the restarted server runs the thread again
    from its persisted checkpoint, and the node finds the Codegen run by its message key
    (no second create): cancelling the re-run stops that very run."""
    from langgraph_sdk import get_client

    async def start(url: str) -> tuple[str, AgentRunResponse]:
        client = get_client(url=url)
        thread = (await client.threads.create())["thread_id"]
        await client.runs.create(thread, "codegen", input=_user("a slow restart-proof task"))
        return thread, await _active_run(served, thread)

    async def persisted() -> bool:  # `langgraph dev` writes its state every 10 real s
        files = list((tmp_path / ".langgraph_api").glob("*.pckl"))
        return bool(files) and min(f.stat().st_mtime for f in files) > seen

    with langgraph_dev(tmp_path, served.env) as dev:
        thread, working = asyncio.run(start(dev.url))
        seen = time.time()
        asyncio.run(_until("the server saved the thread", persisted))
        os.killpg(dev.pid, signal.SIGKILL)  # no shutdown: a worker that died
    streamed = served.backend.stats()["requests"].get("logs", 0)

    async def re_run(url: str) -> dict[str, Any]:
        client = get_client(url=url)
        (run,) = await client.runs.list(thread)  # the run the dead worker had: again

        async def attached() -> bool:  # its node reads the Codegen run's logs again
            logs = await asyncio.to_thread(
                lambda: served.backend.stats()["requests"].get("logs", 0)
            )
            return bool(logs > streamed)

        await _until("the re-run attaches", attached)
        await client.runs.cancel(thread, run["run_id"])
        return dict(run)

    with langgraph_dev(tmp_path, served.env) as dev:
        asyncio.run(re_run(dev.url))

        def stopped() -> Any:
            found = served.codegen.agent_runs.get(working.id)
            return found if found.status.is_terminal else None

        ended = asyncio.run(_until("the Codegen run ends", lambda: asyncio.to_thread(stopped)))
    assert ended.status == "STOPPED"  # the re-run was waiting on the same Codegen run
    assert [r.id for r in served.runs_of(thread)] == [working.id]  # and created none
    assert served.backend.stats()["duplicates"] == 0


# -- docs/workflows.md's langgraph_sdk blocks, as written ---------------------------------

WORKFLOWS = Path(__file__).resolve().parents[2] / "docs" / "workflows.md"


def test_the_workflows_page_sdk_blocks_run_as_written(served: Served) -> None:
    """docs/workflows.md's two ``langgraph_sdk`` blocks (marked ``runs it as written``), on
    this server: the feature thread paused for approval and resumed, then a ``codegen``
    thread redirected by an interrupting update, its answer the last message."""
    text = WORKFLOWS.read_text(encoding="utf-8")
    blocks = re.findall(
        r"<!-- no-run: [^>]*\(tests/studio/test_codegen_server\.py runs it as written\) -->\n"
        r"```python\n(.*?)^```$",
        text,
        flags=re.S | re.M,
    )
    assert len(blocks) == 2, "docs/workflows.md: the two langgraph_sdk blocks"
    code = "\n".join(blocks)
    assert code.count('"http://127.0.0.1:2024"') == 1  # the only change: this server's URL
    code = code.replace('"http://127.0.0.1:2024"', repr(served.url))
    source = (
        "async def blocks():\n"
        + textwrap.indent(code, "    ")
        + "    await server.aclose()\n    return locals()\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/workflows.md", "exec"), namespace)
    with redirect_stdout(io.StringIO()) as printed:
        names = asyncio.run(asyncio.wait_for(namespace["blocks"](), 4 * WAIT))
    # the feature thread's report: approved by the resume, every agent's run complete
    assert printed.getvalue().startswith("{'verdict': 'approved'"), printed.getvalue()
    assert printed.getvalue().count("'status': 'COMPLETE'") == 3, printed.getvalue()
    answer = names["answer"]
    assert answer["type"] == "ai" and answer["name"] == "codegen", answer
    assert answer["additional_kwargs"]["status"] == "COMPLETE", answer
    (run,) = served.runs_of(names["thread"]["thread_id"])  # one Codegen run, redirected
    assert answer["additional_kwargs"]["agent_run_id"] == run.id


# -- Deep Agents: the codegen graph as an AsyncSubAgent -----------------------------------


def _last_task_id(messages: list[BaseMessage]) -> str:
    launched = [m for m in messages if isinstance(m, ToolMessage) and m.name == "start_async_task"]
    return str(launched[-1].content).rsplit("task_id:", 1)[1].strip()


def _supervisor_turn(messages: list[BaseMessage]) -> AIMessage:
    """The scripted supervisor: one tool call per human order ("start <task>", "check",
    "update <message>", "cancel"), then a short reply once the tool answered."""
    if isinstance(messages[-1], ToolMessage):
        return AIMessage("Noted.")
    order = str(next(m for m in reversed(messages) if isinstance(m, HumanMessage)).content)
    verb, _, rest = order.partition(" ")
    if verb == "start":
        return calls(tool_call("start_async_task", description=rest, subagent_type="coder"))
    task = {"task_id": _last_task_id(messages)}
    if verb == "update":
        return calls(tool_call("update_async_task", message=rest, **task))
    return calls(tool_call(f"{verb}_async_task", **task))


def test_as_a_deep_agents_async_subagent(served: Served) -> None:
    from deepagents import AsyncSubAgent, create_deep_agent
    from langgraph.checkpoint.memory import InMemorySaver

    coder = AsyncSubAgent(
        name="coder",
        description="A Codegen cloud coding agent: writes code and opens pull requests.",
        graph_id="codegen",
        url=served.url,
    )
    deep = create_deep_agent(
        model=ScriptedSupervisor(steps=[_supervisor_turn]),
        subagents=[coder],  # an AsyncSubAgent (graph_id) goes to AsyncSubAgentMiddleware
        checkpointer=InMemorySaver(),
    )
    config: Any = {"configurable": {"thread_id": "supervisor"}}

    def say(order: str) -> dict[str, Any]:
        out: dict[str, Any] = deep.invoke({"messages": [HumanMessage(order)]}, config)
        return out

    def tool_answer(out: dict[str, Any]) -> str:
        return str([m for m in out["messages"] if isinstance(m, ToolMessage)][-1].content)

    def check_until_done() -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while True:  # as a supervisor would: check again until the task is done
            answer = json.loads(tool_answer(say("check")))
            if answer["status"] not in ("running", "pending"):
                return dict(answer)
            assert time.monotonic() < deadline, answer
            time.sleep(0.1)  # real time: the server's run progresses in another process

    started = say("start Add a /health endpoint in stages")
    task_id = tool_answer(started).rsplit("task_id:", 1)[1].strip()
    first = check_until_done()
    assert first["status"] == "success", first
    (run,) = served.runs_of(task_id)
    assert f"Codegen run {run.id}" in first["result"] and "Did: Add a /health" in first["result"]

    say("update Also return the version")
    second = check_until_done()
    assert second["status"] == "success", second
    assert f"Codegen run {run.id}" in second["result"]  # the same Codegen run
    assert "Did: Also return the version" in second["result"]

    say("update Now split the module")  # a long segment of the same run
    working = asyncio.run(_active_run(served, task_id))
    assert working.id == run.id
    cancelled = say("cancel")
    assert "Cancelled async subagent task" in tool_answer(cancelled)

    def stopped() -> Any:
        found = served.codegen.agent_runs.get(run.id)
        return found if found.status.is_terminal else None

    ended = asyncio.run(_until("the Codegen run ends", lambda: asyncio.to_thread(stopped)))
    assert ended.status == "STOPPED"
    assert [r.id for r in served.runs_of(task_id)] == [run.id]  # one run for the task
    assert served.backend.stats()["duplicates"] == 0
