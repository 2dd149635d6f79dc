"""``supervisor_workflow``: a chat model routes work among Codegen agents through tools.

The graph (uncompiled; you choose the checkpointer)::

    START -> supervisor --(tool calls)--> tools -> record -> supervisor ...
                        \\--(an answer, or max_turns reached)--> report -> END

* ``supervisor`` calls the chat model, bound to the Codegen tools, on the conversation. The
  delegation tool is ``codegen_run_agent`` with a ``role`` (see
  :class:`~codegen_graph.tools.RoleRunAgentTool`); the others are the toolkit's
  ``codegen_resume_agent_run``, ``codegen_get_agent_run``, ``codegen_get_agent_run_logs``,
  ``codegen_list_agent_runs`` and ``codegen_list_repos``.
* ``tools`` is LangGraph's ``ToolNode``: several calls in one model turn run in parallel.
  While a tool waits on a run, each remote log entry goes to ``stream_mode="custom"``.
* ``record`` folds the tool results of the turn into the state: each ``ToolMessage``
  artifact that is a run (``AgentRunResponse``) becomes a :class:`RunRecord` under
  ``f"{role}:{agent_run_id}"`` (the role comes from the run's metadata), the latest result
  per role goes to ``artifacts``, and error tool messages to ``errors``.
* The loop ends when the model answers without tool calls, or after ``max_turns`` model
  turns (counted since the last human message); ``report`` then writes the final report,
  shaped like :func:`~codegen_graph.graph.feature_workflow`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.pregel import Pregel

from .. import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from ..clock import Clock, SystemClock
from ..tools import (
    DEFAULT_TIMEOUT,
    CodegenGetAgentRunLogsTool,
    CodegenGetAgentRunTool,
    CodegenListAgentRunsTool,
    CodegenListReposTool,
    CodegenResumeAgentRunTool,
    RoleRunAgentTool,
)
from ._fold import count_turns, fold_tool_results
from ._keys import CONVERSATION_SCOPE
from ._records import supervisor_report
from ._state import GraphState

__all__ = [
    "DEFAULT_ROLES",
    "DEFAULT_SUPERVISOR_PROMPT",
    "SupervisorState",
    "supervisor_workflow",
]

#: The agents a supervisor can delegate to by default: role -> instructions for the agent.
#: (The role also goes into the run's metadata; the local backend's agents act on it.)
DEFAULT_ROLES: dict[str, str] = {
    "code": (
        "You are the coding agent. Implement the change described above in the repository, "
        "keep it focused, and open a pull request (or push to the one you are given). "
        "Finish with a short summary of what you changed and the pull request link."
    ),
    "tests": (
        "You are the testing agent. Write and run tests for the change described above. "
        "Report the outcome: say 'TESTS PASSED', or 'TESTS FAILED' followed by each failing "
        "test and why."
    ),
    "docs": (
        "You are the documentation agent. Write or update the user documentation for the "
        "change described above and open a pull request with it."
    ),
}

#: The supervisor's default system prompt; ``{roles}`` lists the roles and instructions.
DEFAULT_SUPERVISOR_PROMPT = """\
You are a supervisor coordinating Codegen cloud coding agents. You do not write code \
yourself: you hand work to the agents with the codegen_run_agent tool (choose the role) \
and follow up on their runs with codegen_resume_agent_run.

The agents:
{roles}

How to work:
1. Give the code agent the task first, with everything it needs in the prompt.
2. When it is done, give the tests agent and the docs agent their tasks in the same turn \
(two codegen_run_agent calls in one reply, so they run in parallel), citing the code \
agent's pull request.
3. If the tests agent reports failures, resume the code agent's run with the failure \
report, then resume the tests agent's run to check again.
4. When the work is done (or cannot be done), answer without calling a tool: a short \
report with the pull request links and what each agent did."""

#: The name the supervisor's AIMessages carry.
_SUPERVISOR = "supervisor"


class SupervisorState(GraphState, total=False):
    """:class:`GraphState` plus the supervisor loop's verdict.

    ``runs`` holds a :class:`RunRecord` per delegated run under ``f"{role}:{agent_run_id}"``;
    ``artifacts`` the latest result per role; ``iterations`` per role how many times its
    latest run was started or resumed; ``report`` the final report.
    """

    verdict: str | None
    """``None`` while working; ``"max_turns"`` when the loop was cut short."""


def supervisor_workflow(
    *,
    model: BaseChatModel,
    client: CodegenClient | None = None,
    async_client: AsyncCodegenClient | None = None,
    agents: Sequence[Pregel[Any, Any]] = (),
    roles: Mapping[str, str] = DEFAULT_ROLES,
    max_turns: int = 12,
    system_prompt: str | None = None,
    repo_id: int | None = None,
    timeout: float | None = None,
    max_result_chars: int = 2000,
) -> StateGraph[Any, Any, Any, Any]:
    """A supervisor chat model that delegates to code, tests and docs Codegen agents.

    Args:
        model: a tool-calling chat model (``ChatAnthropic``, ``ChatOpenAI``...); it is bound
            to the Codegen tools with ``bind_tools``.
        client: the sync client the tools use (``invoke``/``stream``).
        async_client: the async client the tools use (``ainvoke``/``astream``). One of the
            two is enough (see :class:`~codegen_graph.tools.CodegenTool`); with ``agents``
            and no client, the supervisor delegates only to those agents.
        agents: agents to delegate to besides the Codegen tools: compiled graphs of
            ``messages`` with a ``name`` (``codegen_agent(...)``, ``create_agent(...)``,
            ...). Each is a tool ``ask_<name>`` whose ``task`` becomes the agent's human
            message and whose answer is the agent's last message.
        roles: role name -> instructions for that agent, added after the task the model
            writes (default :data:`DEFAULT_ROLES`: ``code``, ``tests``, ``docs``).
        max_turns: model turns at most per human message; then the loop stops with
            ``verdict="max_turns"``.
        system_prompt: the supervisor's instructions (default
            :data:`DEFAULT_SUPERVISOR_PROMPT`); a ``{roles}`` field is filled with the roles.
        repo_id: the repository agents work in when the model names none.
        timeout: seconds a tool waits for a run when the model gives no timeout (default
            30 minutes); the run goes on after it and the model is told so.
        max_result_chars: run results longer than this are cut in what the model reads.

    Returns:
        An uncompiled ``StateGraph[SupervisorState]``. Its input is ``{"task": ...}`` or
        ``{"messages": [...]}``; compile it with a checkpointer to continue the
        conversation on a thread (and to make delegations exactly-once across crashes).

    Raises:
        ConfigurationError: no client, an unusable model, empty roles, ``max_turns < 1``.
    """
    if client is None and async_client is None and not agents:
        raise ConfigurationError(
            "supervisor_workflow needs a client: pass client=CodegenClient(...) and/or "
            "async_client=AsyncCodegenClient(...), or agents=[...] to delegate to"
        )
    if not isinstance(model, BaseChatModel):
        raise ConfigurationError(
            f"model must be a LangChain chat model (BaseChatModel), got {type(model).__name__}"
        )
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise ConfigurationError(f"max_turns must be an int >= 1, got {max_turns!r}")
    tools = [agent_tool(agent) for agent in agents]
    has_client = client is not None or async_client is not None
    if has_client:
        tools += _tools(client, async_client, roles, repo_id, timeout, max_result_chars)
    prompt = _system_prompt(system_prompt, roles if has_client else {}, agents)
    either = client or async_client
    clock: Clock = either.clock if either is not None else SystemClock()

    try:
        bound = model.bind_tools(tools)
    except NotImplementedError:
        raise ConfigurationError(
            f"{type(model).__name__} does not support tool calling; the supervisor needs a "
            "model with bind_tools"
        ) from None

    def prepare(state: SupervisorState) -> tuple[list[AnyMessage], list[AnyMessage], int]:
        messages = list(state.get("messages") or [])
        new: list[AnyMessage] = []
        if not any(isinstance(m, HumanMessage) for m in messages):
            task = state.get("task")
            if not task or not str(task).strip():
                raise ConfigurationError(
                    "supervisor_workflow needs a 'task' or a human message in its input"
                )
            new = [HumanMessage(content=str(task), id="codegen-graph-task")]
            messages += new
        return [SystemMessage(content=prompt), *messages], new, count_turns(messages)

    def answer(response: Any, new: list[AnyMessage]) -> dict[str, Any]:
        if not isinstance(response, AIMessage):
            raise TypeError(f"the supervisor model returned {type(response).__name__}")
        if response.name is None:
            response = response.model_copy(update={"name": _SUPERVISOR})
        return {"messages": [*new, response], "verdict": None}

    def stop(new: list[AnyMessage]) -> dict[str, Any]:
        text = (
            f"Stopped after {max_turns} supervisor turns (max_turns) without a final answer; "
            "the runs so far are in the report."
        )
        return {"messages": [*new, AIMessage(text, name=_SUPERVISOR)], "verdict": "max_turns"}

    def supervisor(state: SupervisorState, config: RunnableConfig) -> dict[str, Any]:
        messages, new, turns = prepare(state)
        if turns >= max_turns:
            return stop(new)
        return answer(bound.invoke(messages, config), new)

    async def asupervisor(state: SupervisorState, config: RunnableConfig) -> dict[str, Any]:
        messages, new, turns = prepare(state)
        if turns >= max_turns:
            return stop(new)
        return answer(await bound.ainvoke(messages, config), new)

    def record(state: SupervisorState) -> dict[str, Any]:
        return fold_tool_results(state, clock.now())

    def report(state: SupervisorState) -> dict[str, Any]:
        return supervisor_report(state)

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(SupervisorState)
    builder.add_node(_SUPERVISOR, RunnableLambda(supervisor, afunc=asupervisor, name=_SUPERVISOR))
    builder.add_node("tools", ToolNode(tools))
    builder.add_node("record", record)
    builder.add_node("report", report)
    builder.add_edge(START, _SUPERVISOR)
    builder.add_conditional_edges(_SUPERVISOR, _route, ["tools", "report"])
    builder.add_edge("tools", "record")
    builder.add_edge("record", _SUPERVISOR)
    builder.add_edge("report", END)
    return builder


def _tools(
    client: CodegenClient | None,
    async_client: AsyncCodegenClient | None,
    roles: Mapping[str, str],
    repo_id: int | None,
    timeout: float | None,
    max_result_chars: int,
) -> list[BaseTool]:
    common: dict[str, Any] = {
        "client": client,
        "async_client": async_client,
        "default_timeout": timeout if timeout is not None else DEFAULT_TIMEOUT,
        "max_result_chars": max_result_chars,
    }
    return [
        RoleRunAgentTool(roles=roles, default_repo_id=repo_id, **common),
        CodegenResumeAgentRunTool(raise_on_failure=False, **common),
        CodegenGetAgentRunTool(**common),
        CodegenGetAgentRunLogsTool(**common),
        CodegenListAgentRunsTool(**common),
        CodegenListReposTool(**common),
    ]


def agent_tool(agent: Pregel[Any, Any]) -> BaseTool:
    """A tool that hands a task to ``agent`` (a graph of ``messages``) and returns its
    answer: the agent's last message."""
    name = getattr(agent, "name", None)
    if not isinstance(name, str) or not name or name == "LangGraph":
        raise ConfigurationError("every agent needs a name: compile it with name=...")

    def answer(out: Mapping[str, Any]) -> str:
        messages = out.get("messages") or []
        return str(messages[-1].content) if messages else ""

    def scoped(config: RunnableConfig, call_id: str) -> RunnableConfig:
        # Each call is a conversation of its own (a task asked twice runs twice); a retry
        # of the same call has the same id, so it finds its run again.
        configurable = {**(config.get("configurable") or {}), CONVERSATION_SCOPE: call_id}
        return {**config, "configurable": configurable}

    def ask(task: str, call_id: Annotated[str, InjectedToolCallId], config: RunnableConfig) -> str:
        return answer(agent.invoke({"messages": [HumanMessage(task)]}, scoped(config, call_id)))

    async def aask(
        task: str, call_id: Annotated[str, InjectedToolCallId], config: RunnableConfig
    ) -> str:
        messages = {"messages": [HumanMessage(task)]}
        return answer(await agent.ainvoke(messages, scoped(config, call_id)))

    return StructuredTool.from_function(
        func=ask,
        coroutine=aask,
        name=f"ask_{name}",
        description=f"Hand a task to the {name} agent (everything it needs, in plain words) "
        "and get its answer.",
    )


def _system_prompt(
    template: str | None, roles: Mapping[str, str], agents: Sequence[Pregel[Any, Any]] = ()
) -> str:
    listing = "\n".join(
        [f"- {role}: {text.strip()}" for role, text in roles.items()]
        + [f"- {a.name}: ask it with the ask_{a.name} tool" for a in agents]
    )
    text = DEFAULT_SUPERVISOR_PROMPT if template is None else template
    return text.replace("{roles}", listing)


def _route(state: SupervisorState) -> Literal["tools", "report"]:
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "report"
