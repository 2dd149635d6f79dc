"""What a Codegen node decides, without I/O: launch or attach, its records, its traces.

The factories are in :mod:`._nodes`; the work (launch, attach, wait, check) is written once
in ``graph/_async/nodes.py`` and generated for sync nodes.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import get_runtime
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from .._exceptions import ConfigurationError
from .._output import OutputSpec
from .._status import AgentRunStatus
from ..clock import Clock
from ..models import AgentRunResponse, AgentType
from ..observability import subagent_metadata, trace_operation
from ..resources import DEFAULT_KEY_LOOKBACK
from ._keys import launch_key, message_key
from ._observe import OutputFilters, StoreNamespace, namespace_for, node_store
from ._state import RunRecord

__all__ = [
    "Launch",
    "NodeSpec",
    "PromptSpec",
    "ResumePlan",
    "Turn",
    "TypedResult",
    "agent_answer",
    "plan_launch",
    "plan_turn",
    "record_update",
    "recorded_run",
    "render_prompt",
    "run_record",
    "with_output",
]

#: A prompt: a ``str.format`` template filled from the state, or a callable of the state.
PromptSpec = str | Callable[[Mapping[str, Any]], str]

_Node = Callable[..., Any]


def render_prompt(prompt: PromptSpec, state: Mapping[str, Any]) -> str:
    """Fill a prompt template from the state (or call a prompt callable).

    Template fields name state keys (``{task}``); a missing key is a
    :class:`~codegen_graph.ConfigurationError` naming it.
    """
    if callable(prompt):
        text = prompt(state)
    else:
        fields = {name for _, name, _, _ in string.Formatter().parse(prompt) if name}
        missing = sorted(f for f in fields if f.split(".")[0].split("[")[0] not in state)
        if missing:
            raise ConfigurationError(
                f"prompt template needs state key(s) {missing}, which the state does not have"
            )
        text = prompt.format_map(dict(state))
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError("the node's prompt rendered to an empty string")
    return text


@dataclass(frozen=True)
class NodeSpec:
    """Everything a Codegen node was built with, checked once at build time."""

    role: str
    key: str
    clock: Clock
    filters: OutputFilters
    prompt: PromptSpec | None = None
    repo_id: int | Callable[[Mapping[str, Any]], int | None] | None = None
    model: str | None = None
    agent_type: AgentType | None = None
    wait: bool = True
    timeout: float | None = None
    metadata: Mapping[str, Any] | Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    store_namespace: StoreNamespace | None = None
    output: OutputSpec[Any] | None = None
    key_lookback: float = DEFAULT_KEY_LOOKBACK
    #: Stop the run when the graph run is cancelled. Off for ``codegen_node``: LangGraph
    #: also cancels a node to retry it (``TimeoutPolicy``) or when a sibling fails, and
    #: the retry must find its run going.
    stop_on_cancel: bool = False

    def create_args(self, state: Mapping[str, Any]) -> dict[str, Any]:
        repo = self.repo_id(state) if callable(self.repo_id) else self.repo_id
        return {"repo_id": repo, "model": self.model, "agent_type": self.agent_type}

    def instructed(self, text: str) -> str:
        """``text`` as sent to the agent: with ``output_schema``'s instructions, if any (a
        create and every follow-up of a conversation alike)."""
        return text if self.output is None else self.output.with_instructions(text)

    def for_role(self, role: str) -> NodeSpec:
        return self if role == self.role else dataclasses.replace(self, role=role)


class Launch(NamedTuple):
    """What a launching node must do: attach to ``attach_id``, or create with ``key``."""

    iteration: int
    attach_id: int | None
    prompt: str | None = None
    key: str | None = None
    seen: int = 0  # log entries of the attached run that were already streamed
    since: float | None = None  # the key's lookup bound: when its intent began at the latest


class ResumePlan(NamedTuple):
    """What a resuming node sends: ``text`` to run ``run_id`` (at most once per ``key``)."""

    role: str
    run_id: int
    text: str
    key: str | None
    source: str | None = None  # where the text came from (untrusted when set)


class TypedResult(NamedTuple):
    """The validated object of a run's answer, and which answer it was."""

    output: BaseModel | None
    answers: int


def thread_of(config: RunnableConfig) -> Any:
    return (config.get("configurable") or {}).get("thread_id")


def plan_launch(spec: NodeSpec, state: Mapping[str, Any], config: RunnableConfig) -> Launch:
    """Attach to the run recorded for this key and iteration, or create one with its key."""
    iteration = int((state.get("iterations") or {}).get(spec.key, 1))
    record = (state.get("runs") or {}).get(spec.key)
    if record and record.get("agent_run_id") and int(record.get("iteration", 1)) == iteration:
        seen = int(record.get("logs_seen") or 0)
        return Launch(iteration, int(record["agent_run_id"]), seen=seen)
    assert spec.prompt is not None
    text = render_prompt(spec.prompt, state)
    key = launch_key(config, spec.key, iteration, prompt=text)
    return Launch(iteration, None, text, key, since=spec.clock.now() - spec.key_lookback)


def run_metadata(
    spec: NodeSpec, state: Mapping[str, Any], config: RunnableConfig
) -> dict[str, Any]:
    extra = spec.metadata(state) if callable(spec.metadata) else dict(spec.metadata or {})
    return {"codegen_graph_role": spec.role, "codegen_graph_thread": thread_of(config), **extra}


def run_record(
    key: str,
    role: str,
    run: AgentRunResponse,
    *,
    iteration: int,
    idempotency_key: str | None,
    attempts: int = 1,
    started_at: float | None = None,
    finished_at: float | None = None,
    now: float | None = None,
    logs_seen: int | None = None,
) -> RunRecord:
    """The JSON-safe record of a run that goes into ``state["runs"]``.

    ``logs_seen`` is left out when unknown, so merging keeps the previous count.
    """
    status = run.status.canonical if run.status is not None else "PENDING"
    record = RunRecord(
        key=key,
        agent_run_id=run.id,
        role=role,
        status=status,
        result=run.result,
        summary=run.summary,
        pr_urls=run.pr_urls,
        web_url=run.web_url,
        attempts=attempts,
        iteration=iteration,
        created_at=started_at,
        finished_at=finished_at,
        updated_at=now if now is not None else finished_at or started_at,
        idempotency_key=idempotency_key or "",
    )
    if logs_seen is not None:
        record["logs_seen"] = logs_seen
    return record


def finished_message(role: str, key: str, record: RunRecord, run: AgentRunResponse) -> AIMessage:
    """The ``AIMessage`` a finished run adds to ``messages``, named after the role."""
    content = run.result or run.summary or f"agent run {run.id} ended {record['status']}"
    return AIMessage(
        content=content,
        name=role,
        id=f"codegen-{key}-{run.id}-{record['iteration']}",
        additional_kwargs={"agent_run_id": run.id, "status": record["status"]},
    )


def record_update(
    spec: NodeSpec,
    run: AgentRunResponse,
    iteration: int,
    idem: str | None,
    started: float | None,
    seen: int | None,
    *,
    finished: bool,
) -> dict[str, Any]:
    """The state update of a node: its run record, and once finished, its artifact and
    ``AIMessage``."""
    now = spec.clock.now()
    record = run_record(
        spec.key,
        spec.role,
        run,
        iteration=iteration,
        idempotency_key=idem,
        started_at=started,
        finished_at=now if finished else None,
        now=now,
        logs_seen=seen,
    )
    if not finished:
        return {"runs": {spec.key: record}}
    artifact = {
        "agent_run_id": run.id,
        "result": run.result,
        "summary": run.summary,
        "pr_urls": record["pr_urls"],
        "web_url": run.web_url,
        "status": record["status"],
    }
    return {
        "runs": {spec.key: record},
        "artifacts": {spec.role: artifact},
        "messages": [finished_message(spec.role, spec.key, record, run)],
    }


def with_output(update: dict[str, Any], key: str, role: str, typed: TypedResult | None) -> Any:
    """Put the validated object in ``runs[key]["output"]`` and ``artifacts[role]["output"]``
    (JSON-safe, so checkpoints keep it), and which answer it was in ``output_attempts``."""
    if typed is None:
        return update
    data = typed.output.model_dump(mode="json") if typed.output is not None else None
    update["runs"][key]["output"] = data
    update["runs"][key]["output_attempts"] = typed.answers
    if role in update.get("artifacts", {}):
        update["artifacts"][role]["output"] = data
    return update


def recorded_run(state: Mapping[str, Any], key: str) -> tuple[RunRecord, int]:
    """The run recorded under ``state["runs"][key]`` and its id (a clear error when none)."""
    record: RunRecord | None = (state.get("runs") or {}).get(key)
    run_id = record.get("agent_run_id") if record else None
    if record is None or not run_id:
        raise ConfigurationError(
            f"no launched run under state['runs'][{key!r}]: put a codegen_node(..., "
            "wait=False) with that key before this node"
        )
    return record, int(run_id)


def known_active(record: RunRecord, run_id: int, org_id: int) -> AgentRunResponse | None:
    """The recorded run as a model when the record says it is still going (no GET needed).

    A handle made from it knows it saw the run active, so it reports the finish to the
    client's plugins and metrics even if the run ended before the wait began.
    """
    status = AgentRunStatus(record.get("status") or "PENDING")
    if status.is_terminal:
        return None
    return AgentRunResponse(id=run_id, organization_id=org_id, status=status)


class Shared(NamedTuple):
    store: BaseStore
    namespace: tuple[str, ...]


def store_for(spec: NodeSpec, state: Mapping[str, Any]) -> Shared | None:
    """The node's ``store_namespace`` in the graph's store (a clear error without one)."""
    if spec.store_namespace is None:
        return None
    namespace = namespace_for(spec.store_namespace, state)
    store = node_store()
    if store is None:
        raise ConfigurationError(
            f"store_namespace={namespace!r} needs a store: compile the graph with "
            "store=InMemoryStore() (or any langgraph BaseStore)"
        )
    return Shared(store, namespace)


def result_item(run: AgentRunResponse, role: str, thread_id: Any) -> dict[str, Any]:
    """The value a finished node writes under its role (the run's already filtered)."""
    status = run.status.canonical if run.status is not None else None
    return {
        "text": run.summary or run.result or f"agent run {run.id} ended {status}",
        "result": run.result,
        "summary": run.summary,
        "role": role,
        "agent_run_id": run.id,
        "status": status,
        "web_url": run.web_url,
        "pr_urls": run.pr_urls,
        "thread_id": thread_id,
    }


def heartbeat() -> Callable[[], None] | None:
    """The running node's ``runtime.heartbeat()`` (LangGraph 1.2), ``None`` outside a graph.

    The wait calls it on every watcher tick, so a node under ``TimeoutPolicy(idle_timeout=...)``
    stays alive while the remote run works, however long it is quiet.
    """
    try:
        runtime = get_runtime()
    except RuntimeError:  # called outside a LangGraph run (a node function called directly)
        return None
    beat = getattr(runtime, "heartbeat", None)
    return beat if callable(beat) else None


#: A message that starts with this starts a new Codegen run instead of resuming the thread's.
NEW_RUN = "/new"


@dataclass(frozen=True)
class Turn:
    """What the agent does for the last human message."""

    text: str
    index: int  # which human message of the thread it is (0: the first)
    key: str
    run_id: int | None  # the run to resume; None: look for one, else create one
    earlier: tuple[str, ...] = ()  # the keys of the earlier messages, newest first


def _text(message: AnyMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
    return "\n".join(p for p in parts if p)


def _known_run(name: str, state: Mapping[str, Any]) -> int | None:
    record = state.get("codegen_run") or {}
    if record.get("agent_run_id"):
        return int(record["agent_run_id"])
    for message in reversed(state.get("messages") or []):
        if isinstance(message, AIMessage) and message.name == name:
            run_id = message.additional_kwargs.get("agent_run_id")
            if isinstance(run_id, int):
                return run_id
    return None


def plan_turn(name: str, state: Mapping[str, Any], config: RunnableConfig) -> Turn:
    """The task (the last human message), its key, and the run to resume, if any."""
    humans = [m for m in state.get("messages") or [] if isinstance(m, HumanMessage)]
    if not humans:
        raise ConfigurationError(f"{name}: codegen_agent needs a human message: the task")
    text = _text(humans[-1]).strip()
    fresh = text.startswith(NEW_RUN)
    if fresh:
        text = text[len(NEW_RUN) :].strip()
    if not text:
        raise ConfigurationError(f"{name}: the last human message is empty; it is the task")
    index = len(humans) - 1
    key = message_key(config, name, index, text)
    if fresh:
        return Turn(text, index, key, None)
    earlier = tuple(
        message_key(config, name, i, _text(m).strip())
        for i, m in reversed(list(enumerate(humans[:-1])))
    )
    return Turn(text, index, key, _known_run(name, state), earlier)


def agent_answer(
    spec: NodeSpec, turn: Turn, run: AgentRunResponse, started: float, typed: TypedResult | None
) -> dict[str, Any]:
    """The agent's answer (an ``AIMessage`` named after it) and its run's record."""
    status = run.status.canonical if run.status is not None else "PENDING"
    lines = [run.result or run.summary or f"The Codegen run {run.id} ended {status}."]
    if run.pr_urls:
        lines.append("Pull requests: " + ", ".join(run.pr_urls))
    if run.web_url:
        lines.append(f"Codegen run {run.id}: {run.web_url}")
    extra: dict[str, Any] = {"agent_run_id": run.id, "status": status, "pr_urls": run.pr_urls}
    extra["web_url"] = run.web_url
    record = run_record(
        spec.key, spec.role, run, iteration=turn.index + 1, idempotency_key=turn.key,
        started_at=started, finished_at=spec.clock.now(), now=spec.clock.now(),
    )  # fmt: skip
    if typed is not None:
        data = typed.output.model_dump(mode="json") if typed.output is not None else None
        extra["output"] = record["output"] = data
        record["output_attempts"] = typed.answers
    message = AIMessage(
        content="\n\n".join(lines),
        name=spec.role,
        id=f"codegen-{spec.role}-{run.id}-{turn.index}",
        additional_kwargs=extra,
    )
    return {"messages": [message], "codegen_run": record}


# -- traces ----------------------------------------------------------------------------------


def create_trace(launch: Launch, spec: NodeSpec, text: str) -> trace_operation:
    inputs = {"prompt": text, "key": spec.key, "iteration": launch.iteration}
    return trace_operation("codegen.create", inputs=inputs, role=spec.role)


def attach_trace(run_id: int, role: str) -> trace_operation:
    return trace_operation("codegen.attach", inputs={"agent_run_id": run_id}, role=role)


def wait_trace(run_id: int, role: str) -> trace_operation:
    """The ``codegen.wait`` run: the remote run as a coding-agent ``subagent`` run, whose
    remote ``ACTION`` steps are ``tool`` children (see ``docs/observability.md``)."""
    meta = subagent_metadata(run_id, role)
    return trace_operation(
        "codegen.wait", inputs={"agent_run_id": run_id}, metadata=meta, role=role
    )


def repair_trace(run_id: int, role: str, prompt: str) -> trace_operation:
    inputs = {"agent_run_id": run_id, "prompt": prompt, "reason": "output_schema"}
    return trace_operation("codegen.resume", inputs=inputs, role=role)


def resume_trace(run_id: int, role: str, prompt: str) -> trace_operation:
    return trace_operation(
        "codegen.resume", inputs={"agent_run_id": run_id, "prompt": prompt}, role=role
    )
