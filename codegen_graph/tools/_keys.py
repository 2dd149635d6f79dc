"""Idempotency keys for tool calls: one per (thread, tool call id).

A tool call's id is part of the checkpointed ``AIMessage`` that asked for it, so when
LangGraph re-executes the tools node (a crash, an aborted stream, a retry) the call comes
back with the same id. Inside a graph with a checkpointer, ``codegen_run_agent`` and
``codegen_resume_agent_run`` derive their key from the thread and that id: a re-executed call
attaches to the run it created, or does not send its follow-up twice. Without a thread, the
LangGraph task id stands in (stable across retries within one invocation). Outside a graph,
or called without a tool call id, there is no stable key and the call is made plainly.

The ids come from LangGraph's public runtime API (``get_runtime().execution_info``).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from typing import Literal

from langgraph.runtime import Runtime, get_runtime

__all__ = ["current_tool_call_id", "tool_call_key", "with_tool_call_id"]

# The id of the tool call being run: set by CodegenTool.run()/arun().
_TOOL_CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "codegen_graph_tool_call_id", default=None
)


def with_tool_call_id(tool_call_id: str | None) -> contextvars.Token[str | None]:
    return _TOOL_CALL_ID.set(tool_call_id)


def reset_tool_call_id(token: contextvars.Token[str | None]) -> None:
    _TOOL_CALL_ID.reset(token)


def current_tool_call_id() -> str | None:
    """The id of the tool call being run, if the tool was called with one."""
    return _TOOL_CALL_ID.get()


def tool_call_key(kind: Literal["run", "resume"], tool_call_id: str | None) -> str | None:
    """The idempotency key of one tool call, or ``None`` when no stable one exists.

    ``kind="run"`` gives the ``cg1-call-`` keys the supervisor's delegation tool has always
    used; ``kind="resume"`` gives ``cg1-resume-`` keys for follow-ups.
    """
    if not tool_call_id:
        return None
    try:
        runtime = get_runtime()
    except RuntimeError:  # not inside a runnable
        return None
    info = runtime.execution_info if isinstance(runtime, Runtime) else None
    if info is None:  # not inside a graph node
        return None
    if info.thread_id is not None:
        scope = ["thread", str(info.thread_id), tool_call_id]
    elif info.task_id:
        scope = ["task", info.checkpoint_ns, info.task_id, tool_call_id]
    else:
        return None
    if kind == "resume":
        scope = ["resume", *scope]
    digest = hashlib.sha256(json.dumps(scope).encode("utf-8")).hexdigest()[:40]
    return f"cg1-{'call' if kind == 'run' else 'resume'}-{digest}"
