"""Launch keys: one stable idempotency key per (thread, task, node, iteration).

How LangGraph identifies a node execution (read from langgraph 1.x, ``pregel/_algo.py``):
each task of a superstep gets ``task_id = hash(checkpoint_id, checkpoint_ns, step, node,
trigger path)`` (xxhash for v2+ checkpoints, uuid5 before). Inside the node the same values
are available as ``runtime.execution_info`` (a :class:`langgraph.runtime.ExecutionInfo`
with ``thread_id``, ``checkpoint_id``, ``checkpoint_ns`` and ``task_id``; ``checkpoint_ns``
is the task's own namespace, ``"<node>:<task_id>"`` at the root, ``"<parent>:<id>|..."`` in a
subgraph). Only that public API is read: the node's ``runtime``, or, given its ``config``,
:func:`langgraph.runtime.get_runtime` (the runtime of the node running now), never the
private ``__pregel_*`` keys of the config.

Which of those the key is made of (scheme ``cg2``), each consequence checked by
``tests/graph/test_keys.py``:

* **With a thread** (a checkpointer and a ``thread_id``): the thread, the node's namespace
  without task ids, the superstep number (``metadata["langgraph_step"]``), the trigger path
  (``metadata["langgraph_path"]``), the node label, the iteration and a digest of the
  rendered prompt. None of them depends on a checkpoint id, so the key is the same when the
  same step is re-run from an *earlier* checkpoint: what happens after a crash with
  LangGraph's default ``durability="async"`` (the checkpoint of the step before may not have
  been written) or with ``"exit"``, as well as with ``"sync"``, after a ``RetryPolicy``
  retry, or after ``invoke(None, config)`` on the thread.
* Another thread, another superstep (a new pass of a loop), another iteration or another
  prompt gives another key. ``update_state`` (a fork) moves the steps on by one, so the
  forked thread's launches get new keys.
* **Without a thread** there is nothing to resume: the key uses the LangGraph task id
  (a hash of the checkpoint id, namespace, step and node), so it is stable across retries
  within one invocation and new for every invocation.
* Inside a **subgraph**, the parents' namespace segments keep their task ids (a subgraph's
  steps start again for every parent task): stable under ``durability="sync"``; under
  ``"async"`` a crash that loses the parent's checkpoint gives the subgraph a new key.

A key alone cannot make a launch exactly-once: the nodes also record each run in state and
look the key up among the org's runs before creating (see :mod:`._nodes`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import ExecutionInfo, Runtime, get_runtime

from .._exceptions import ConfigurationError

__all__ = ["CONVERSATION_SCOPE", "current_execution_info", "launch_key", "message_key"]

#: Version prefix of the key scheme, so a future scheme never collides with this one
#: (``cg1`` keys hashed the task id, which a re-run from an earlier checkpoint changes).
_SCHEME = "cg2"
#: A ``configurable`` entry that scopes :func:`message_key`: each value is a conversation of
#: its own. The supervisor's ``ask_<agent>`` tool puts its tool call id there, so asking
#: the same task twice is two conversations (two runs), and a retry of one call is one.
CONVERSATION_SCOPE = "codegen_graph_conversation"
# How LangGraph joins and ends checkpoint namespace segments (langgraph/_internal/_constants.py).
_NS_SEP = "|"
_NS_END = ":"


def launch_key(
    config_or_runtime: Mapping[str, Any] | Runtime[Any],
    node: str,
    iteration: int,
    *,
    prompt: str | None = None,
) -> str:
    """The idempotency key for launching a Codegen run from ``node`` in this execution.

    Call it inside a running node with the node's ``config`` (a ``RunnableConfig``) or its
    ``runtime``. The key is the same whenever LangGraph re-executes the same step of the
    thread (a retry, a resume from the checkpoint, a re-run from an earlier checkpoint after
    a crash, a replay) and different for another thread, step, ``iteration`` or ``prompt``.

    Args:
        config_or_runtime: the node's ``RunnableConfig`` or ``Runtime``.
        node: the node's name (or any stable label of the launch within the node).
        iteration: the feedback-loop pass, >= 0.
        prompt: the rendered prompt, if the key should change with it (the nodes pass it).

    Returns:
        ``"cg2-"`` followed by 40 hex digits (a SHA-256 prefix of what the module docstring
        lists). Without a checkpointer there is no thread id; the key is then only stable
        across retries within one invocation.

    Raises:
        ConfigurationError: not called inside a node (no task id), or bad ``node`` or
            ``iteration``.

    Examples:
        >>> from langgraph.graph import StateGraph
        >>> from langgraph.runtime import Runtime
        >>> def code(state: dict, runtime: Runtime) -> dict:
        ...     key = launch_key(runtime, "code", 0)
        ...     return {"key": key}
    """
    if not isinstance(node, str) or not node:
        raise ConfigurationError(f"node must be a non-empty string, got {node!r}")
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise ConfigurationError(f"iteration must be an int >= 0, got {iteration!r}")
    thread_id, checkpoint_ns, task_id = _execution_ids(config_or_runtime)
    prompt_digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest() if prompt else ""
    step = _step_and_path(config_or_runtime) if thread_id else None
    if step is not None:
        parts: list[Any] = [thread_id, _stable_ns(checkpoint_ns), *step, node, iteration]
    else:
        parts = [thread_id, checkpoint_ns, task_id, node, iteration]
    payload = json.dumps([*parts, prompt_digest], default=str)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]
    return f"{_SCHEME}-{digest}"


def message_key(config: Mapping[str, Any], agent: str, index: int, text: str) -> str:
    """The idempotency key of the ``index``-th human message (``text``) of a conversation
    with ``agent`` on this thread: ``codegen_agent`` creates or resumes its run with it.

    The same whenever the message is handled again (a retry, a crash and a resume under any
    durability, as a subgraph too: no task id of any namespace segment is in it); another
    thread, agent, position, text or :data:`CONVERSATION_SCOPE` gives another key. Without
    a thread there is no conversation to find again: the key then holds the invocation's
    task id.
    """
    thread_id, checkpoint_ns, task_id = _execution_ids(config)
    path = _NS_SEP.join(part.split(_NS_END, 1)[0] for part in checkpoint_ns.split(_NS_SEP))
    parts = [thread_id, path, agent, index] if thread_id else [checkpoint_ns, task_id, agent, index]
    scope = (config.get("configurable") or {}).get(CONVERSATION_SCOPE)
    if scope is not None:
        parts.insert(2, str(scope))
    digest = hashlib.sha256(json.dumps([*parts, text], default=str).encode("utf-8")).hexdigest()
    return f"{_SCHEME}m-{digest[:40]}"


def _stable_ns(checkpoint_ns: str) -> str:
    """The namespace without the task's own id: ``"code:<id>"`` -> ``"code"``."""
    *parents, own = checkpoint_ns.split(_NS_SEP)
    return _NS_SEP.join([*parents, own.split(_NS_END, 1)[0]])


def _step_and_path(source: Mapping[str, Any] | Runtime[Any]) -> tuple[int, str] | None:
    """The superstep and trigger path of the running task, from its config's metadata."""
    config: Mapping[str, Any] | None = source if isinstance(source, Mapping) else None
    if config is None:
        try:
            config = get_config()
        except RuntimeError:  # a Runtime used outside its task's context
            return None
    metadata = config.get("metadata") or {}
    step = metadata.get("langgraph_step")
    if isinstance(step, bool) or not isinstance(step, int):
        return None
    return step, json.dumps(metadata.get("langgraph_path") or [], default=str)


def _execution_ids(source: Mapping[str, Any] | Runtime[Any]) -> tuple[str, str, str]:
    info: ExecutionInfo | None = None
    if isinstance(source, Runtime):
        info = source.execution_info
    elif isinstance(source, Mapping):
        info = current_execution_info()
    else:
        raise ConfigurationError(
            f"launch_key needs the node's RunnableConfig or Runtime, got {type(source).__name__}"
        )
    if info is None or not info.task_id:
        raise ConfigurationError(
            "launch_key found no LangGraph task id: call it inside a running graph node, "
            "passing the node's `config` or `runtime` argument"
        )
    thread = info.thread_id
    return (str(thread) if thread is not None else "", info.checkpoint_ns, info.task_id)


def current_execution_info() -> ExecutionInfo | None:
    """The execution info of the graph node running now (``None`` outside any)."""
    try:
        runtime = get_runtime()
    except RuntimeError:  # not inside a runnable
        return None
    return runtime.execution_info if isinstance(runtime, Runtime) else None
