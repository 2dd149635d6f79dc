"""``codegen_agent``: a Codegen run in LangGraph's own shape (a named graph of ``messages``).

Each shape a LangGraph user composes agents in: on its own, as a node of a ``MessagesState``
graph, as a ``create_supervisor`` worker, as a Deep Agents ``CompiledSubAgent``; one
conversation is one Codegen run, each message is sent once (retries, crashes, both
durabilities, as a subgraph), a cancelled graph run stops the Codegen run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from codegen_graph.clock import ManualClock
from codegen_graph.graph import codegen_agent
from codegen_graph.local import LocalCodegen, Outcome, RunContext, Step

from ._scripted import ScriptedSupervisor, calls, tool_call


class Agent:
    """Answers each segment with its prompt's last paragraph; "slow" runs take an hour."""

    def plan(self, ctx: RunContext) -> Outcome:
        said = ctx.prompt.strip().split("\n\n")[-1]
        return Outcome(
            status="COMPLETE",
            result=f"did: {said} (segment {ctx.segment})",
            steps=(Step("ACTION", tool_name="edit", tool_input={"said": said}),),
            duration=3600.0 if "slow" in said else 30.0,
        )


@pytest.fixture
def local() -> Iterator[LocalCodegen]:
    with LocalCodegen(clock=ManualClock(), behavior=Agent(), rate_limits=False) as backend:
        yield backend


def _config(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


def test_a_conversation_is_one_run_and_the_answer_a_named_message(local: LocalCodegen) -> None:
    with local.client() as client:
        agent = codegen_agent(client=client, name="coder", checkpointer=InMemorySaver())
        assert agent.name == "coder"
        out = agent.invoke({"messages": [("user", "Add a /health endpoint")]}, _config("c1"))
        answer = out["messages"][-1]
        assert isinstance(answer, AIMessage) and answer.name == "coder"
        assert "did: Add a /health endpoint" in answer.content
        run_id = answer.additional_kwargs["agent_run_id"]
        assert out["codegen_run"]["agent_run_id"] == run_id
        assert answer.additional_kwargs["web_url"] in answer.content
        again = agent.invoke({"messages": [("user", "Also return the version")]}, _config("c1"))
        follow = again["messages"][-1]
        assert follow.additional_kwargs["agent_run_id"] == run_id  # the same Codegen run
        assert "segment 2" in follow.content and "Also return the version" in follow.content
    stats = local.stats()
    assert stats["runs_created"] == 1 and stats["runs_resumed"] == 1


def test_new_starts_another_run(local: LocalCodegen) -> None:
    with local.client() as client:
        agent = codegen_agent(client=client, checkpointer=InMemorySaver())
        first = agent.invoke({"messages": [("user", "Task one")]}, _config("n"))
        second = agent.invoke({"messages": [("user", "/new Task two")]}, _config("n"))
    ids = [m["messages"][-1].additional_kwargs["agent_run_id"] for m in (first, second)]
    assert ids[0] != ids[1] and local.stats()["runs_created"] == 2


def test_as_a_node_of_a_messages_state_graph_the_parent_keeps_the_answer(
    local: LocalCodegen,
) -> None:
    with local.client() as client:
        agent = codegen_agent(client=client, name="coder")
        builder: StateGraph[Any] = StateGraph(MessagesState)
        builder.add_node("coder", agent)
        builder.add_edge(START, "coder")
        parent = builder.compile(checkpointer=InMemorySaver())
        out = parent.invoke({"messages": [HumanMessage("Fix the login bug")]}, _config("p"))
        assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage]
        run_id = out["messages"][-1].additional_kwargs["agent_run_id"]
        # the parent keeps only messages: the next turn finds the run from the last answer
        again = parent.invoke({"messages": [HumanMessage("Add a test too")]}, _config("p"))
        assert again["messages"][-1].additional_kwargs["agent_run_id"] == run_id
    assert local.stats()["runs_created"] == 1


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_a_crash_and_a_resume_send_each_message_once(local: LocalCodegen, durability: Any) -> None:
    """The process dies during the wait (before any checkpoint of the step): the thread
    resumed in a new process attaches to the run, under every durability, as a subgraph."""
    saver = InMemorySaver()
    with local.client() as client:
        agent = codegen_agent(client=client, name="coder", timeout=60)
        builder: StateGraph[Any] = StateGraph(MessagesState)
        builder.add_node("coder", agent)
        builder.add_edge(START, "coder")
        parent = builder.compile(checkpointer=saver)
        with pytest.raises(Exception, match="did not finish in time"):
            parent.invoke(
                {"messages": [HumanMessage("a slow task")]}, _config("crash"), durability=durability
            )
        local.clock.advance(7200)  # the run finishes meanwhile
        out = parent.invoke(None, _config("crash"), durability=durability)
    assert "did: a slow task" in out["messages"][-1].content
    assert local.stats()["runs_created"] == 1 and local.stats()["duplicates"] == 0


async def test_a_cancelled_graph_run_stops_the_codegen_run(local: LocalCodegen) -> None:
    async with local.async_client() as client:
        agent = codegen_agent(client=client, checkpointer=InMemorySaver())
        task = asyncio.create_task(
            agent.ainvoke({"messages": [("user", "a slow task")]}, _config("cancel"))
        )
        while not (await client.agent_runs.list()).items:
            await asyncio.sleep(0)
        run_id = (await client.agent_runs.list()).items[0].id
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await client.agent_runs.get(run_id)).status == "STOPPED"
        # an update after the cancel redirects the same run
        out = await agent.ainvoke({"messages": [("user", "do this instead")]}, _config("cancel"))
        assert out["messages"][-1].additional_kwargs["agent_run_id"] == run_id
        assert "do this instead" in out["messages"][-1].content


def test_as_a_create_supervisor_worker(local: LocalCodegen) -> None:
    from langgraph_supervisor import create_supervisor

    with local.client() as client:
        coder = codegen_agent(client=client, name="coder")
        model = ScriptedSupervisor(
            steps=[calls(tool_call("transfer_to_coder")), AIMessage("The coder is done.")]
        )
        supervisor = create_supervisor([coder], model=model).compile()
        out = supervisor.invoke({"messages": [HumanMessage("Add a /health endpoint")]})
    answers = [m.content for m in out["messages"] if isinstance(m, AIMessage) and m.name == "coder"]
    assert any("did: Add a /health endpoint" in str(a) for a in answers), answers
    assert local.stats()["runs_created"] == 1


def test_as_a_deep_agents_compiled_subagent(local: LocalCodegen) -> None:
    from deepagents import CompiledSubAgent, create_deep_agent

    with local.client() as client:
        coder = codegen_agent(client=client, name="coder")
        model = ScriptedSupervisor(
            steps=[
                calls(
                    tool_call("task", description="Add a /health endpoint", subagent_type="coder")
                ),
                AIMessage("Delegated and done."),
            ]
        )
        deep = create_deep_agent(
            model=model,
            subagents=[CompiledSubAgent(name="coder", description="Writes code", runnable=coder)],
        )
        out = deep.invoke({"messages": [HumanMessage("Please add a health endpoint")]})
    results = [m for m in out["messages"] if isinstance(m, ToolMessage) and m.name == "task"]
    assert results and "did: Add a /health endpoint" in str(results[-1].content)
    assert local.stats()["runs_created"] == 1


def test_supervisor_workflow_delegates_to_codegen_agents(local: LocalCodegen) -> None:
    from codegen_graph.graph import supervisor_workflow

    with local.client() as client:
        coder = codegen_agent(client=client, name="coder")
        model = ScriptedSupervisor(
            steps=[calls(tool_call("ask_coder", task="Add a /health endpoint")), AIMessage("Done.")]
        )
        graph = supervisor_workflow(model=model, agents=[coder]).compile()
        out = graph.invoke({"task": "Add a health endpoint"})
    assert "ask_coder" in model.bound
    told = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert told and "did: Add a /health endpoint" in str(told[-1].content)
    assert out["messages"][-1].content == "Done."


def test_asking_an_agent_the_same_task_twice_runs_it_twice(local: LocalCodegen) -> None:
    """Each ``ask_<agent>`` call is a conversation of its own. The key of a call's first
    message held only the thread, the agent, the position and the text, so asking "run the
    tests" again after a fix found the first call's finished run and answered with it, and
    no work was done. A retry of one call (the same tool call id) still finds its run."""
    from codegen_graph.graph import supervisor_workflow
    from codegen_graph.graph._supervisor import agent_tool

    task = "Run the test suite and report"
    with local.client() as client:
        coder = codegen_agent(client=client, name="coder")
        asks = [calls(tool_call("ask_coder", task=task)) for _ in range(2)]
        model = ScriptedSupervisor(steps=[*asks, AIMessage("Done.")])
        graph = supervisor_workflow(model=model, agents=[coder]).compile(
            checkpointer=InMemorySaver()
        )
        config = {"configurable": {"thread_id": "same-task-twice"}}
        out = graph.invoke({"task": "Run the tests twice"}, config)
        ask = agent_tool(coder)
    answers = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert len(answers) == 2
    assert local.stats()["runs_created"] == 2
    assert list(ask.tool_call_schema.model_fields) == ["task"]  # the call id is injected


@pytest.mark.parametrize("bad", [-5, "1", True])
def test_a_bad_key_lookback_is_refused_like_codegen_nodes(local: LocalCodegen, bad: Any) -> None:
    """One check for every node factory: the agent took any value ``float()`` accepted."""
    from codegen_graph import ConfigurationError
    from codegen_graph.graph import codegen_node

    with local.client() as client:
        with pytest.raises(ConfigurationError, match="key_lookback must be"):
            codegen_agent(client=client, key_lookback=bad)
        with pytest.raises(ConfigurationError, match="key_lookback must be"):
            codegen_node("code", "x", client=client, key_lookback=bad)


def test_each_turn_of_a_typed_conversation_gets_the_schema_and_its_own_repairs() -> None:
    """With ``output_schema``, a later message resumed the run with its bare text (no
    schema instructions), and its answer's repairs were counted with the earlier turns'
    (the whole conversation is one run): with ``output_attempts=2``, the second turn's
    invalid answer got no repair and ended ``OutputValidationError``."""
    from pydantic import BaseModel

    class Out(BaseModel):
        ok: bool
        note: str

    invalid = {"status": "COMPLETE", "duration": 30, "result": "no json here"}
    valid = {"status": "COMPLETE", "duration": 10}  # the backend answers the schema
    answers = [invalid, valid, invalid, valid]
    scenario = {"name": "two typed turns", "rules": [{"match": "(?i)typed", "attempts": answers}]}
    with LocalCodegen(clock=ManualClock(), scenario=scenario) as local, local.client() as client:
        agent = codegen_agent(
            client=client, name="coder", output_schema=Out, output_attempts=2,
            checkpointer=InMemorySaver(),
        )  # fmt: skip
        config = {"configurable": {"thread_id": "typed-turns"}}
        first = agent.invoke({"messages": [HumanMessage("typed task: do X")]}, config)
        second = agent.invoke({"messages": [HumanMessage("typed follow-up: do Y")]}, config)
        stored = local.store.get_run(second["codegen_run"]["agent_run_id"])
    assert first["codegen_run"]["output_attempts"] == 2
    assert second["codegen_run"]["output_attempts"] == 2
    assert Out.model_validate(second["codegen_run"]["output"])
    assert stored is not None
    prompts = [str(p) for p in stored["prompts"]]
    assert len(prompts) == 4  # the task, its repair, the follow-up, its repair
    assert "typed follow-up: do Y" in prompts[2] and "json-schema" in prompts[2]
