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

Consequences, each one checked by ``tests/graph/test_keys.py``:

* A ``RetryPolicy`` retry re-runs the same task object: same task id, same key.
* Resuming a thread (``invoke(None, config)``) after the node raised, or after the process
  died, reloads the last saved checkpoint and rebuilds the same tasks from it: same
  checkpoint id, namespace, step and node, so the same task id and the same key.
* Another thread, another superstep (a new pass of a loop) or another iteration number gives
  another key.

Caveat: the guarantee needs the checkpoint of the step to be saved *before* the node runs,
which is LangGraph's ``durability="sync"``. With ``"async"`` a crash can lose that
checkpoint and with ``"exit"`` every intermediate one; the step then re-runs under a new
checkpoint id, so a new key. Exactly-once launch therefore also records the run in state
before waiting and looks the key up in the runs' metadata, but for crash safety run Codegen
graphs with ``durability="sync"``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from langgraph.runtime import ExecutionInfo, Runtime, get_runtime

from .._exceptions import ConfigurationError

__all__ = ["current_execution_info", "launch_key"]

#: Version prefix of the key scheme, so a future scheme never collides with this one.
_SCHEME = "cg1"


def launch_key(
    config_or_runtime: Mapping[str, Any] | Runtime[Any], node: str, iteration: int
) -> str:
    """The idempotency key for launching a Codegen run from ``node`` in this execution.

    Call it inside a running node with the node's ``config`` (a ``RunnableConfig``) or its
    ``runtime``. The key is the same whenever LangGraph re-executes the same task (a retry,
    a resume from the checkpoint, a replay) and different for another thread, another task
    or another ``iteration``.

    Args:
        config_or_runtime: the node's ``RunnableConfig`` or ``Runtime``.
        node: the node's name (or any stable label of the launch within the node).
        iteration: the feedback-loop pass, >= 0.

    Returns:
        ``"cg1-"`` followed by 40 hex digits (a SHA-256 prefix of thread id, checkpoint
        namespace, task id, node and iteration). Without a checkpointer there is no thread
        id; the key is then only stable across retries within one invocation.

    Raises:
        ConfigurationError: not called inside a node (no task id), or bad ``node`` or
            ``iteration``.

    Example:
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
    payload = json.dumps([thread_id, checkpoint_ns, task_id, node, iteration])
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]
    return f"{_SCHEME}-{digest}"


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
