"""LangSmith's coding agent metadata contract (``coding-agent-v1``), for Codegen runs.

LangSmith groups and filters the traces of coding agents (Claude Code, Codex, Cursor,
Copilot...) by a shared metadata schema. Every run carries the **identity block**:

* ``ls_trace_schema_version``: ``"coding-agent-v1"``;
* ``ls_agent_kind``: ``"coding-agent"``;
* ``ls_integration``: who emits the run, here ``"codegen-graph"``;
* ``ls_agent_runtime``: a readable runtime name, ``"Codegen cloud agent (codegen-graph X.Y.Z)"``;
* ``thread_id``: the conversation thread, which LangSmith's Threads view groups by (the
  LangGraph thread when there is one, else the trace's id);

plus ``ls_integration_version`` (codegen-graph's version). The remote Codegen run is a
**subagent** run (``ls_agent_type: "subagent"``, ``ls_subagent_id``: the agent run id,
``ls_subagent_type``: the node's role) and its ``ACTION`` steps are ``tool`` runs. LangSmith
hands a run's metadata down to its children, so the subagent-only keys are taken off the
remote steps again (:data:`SUBAGENT_KEYS`): a tool run must not look like a subagent.

The Codegen agent's own version (``ls_agent_version``) is not exposed by the API, so it is
left out, as the contract says for fields a runtime cannot know.
"""

from __future__ import annotations

from typing import Any

from .._version import __version__

__all__ = [
    "SCHEMA_VERSION",
    "SUBAGENT_KEYS",
    "coding_agent_metadata",
    "subagent_metadata",
]

SCHEMA_VERSION = "coding-agent-v1"
INTEGRATION = "codegen-graph"
#: Metadata keys that belong to the subagent run only (not inherited by its steps).
SUBAGENT_KEYS = ("ls_agent_type", "ls_subagent_id", "ls_subagent_type")


def coding_agent_metadata(thread_id: str | None = None) -> dict[str, Any]:
    """The contract's identity block, for ``config["metadata"]`` of a graph run.

    Put it in the config of a traced graph run and LangGraph's own runs (the graph, every
    node; LangGraph otherwise sets ``ls_integration: "langgraph"``) carry it too:
    ``graph.invoke(inputs, {"configurable": {"thread_id": t},
    "metadata": coding_agent_metadata()})``. codegen-graph's own runs (``codegen.*`` and
    the remote steps) carry it whether or not the config does. ``thread_id`` is left out
    when ``None``: LangGraph puts the thread's own id in every run's metadata.
    """
    block: dict[str, Any] = {
        "ls_trace_schema_version": SCHEMA_VERSION,
        "ls_agent_kind": "coding-agent",
        "ls_integration": INTEGRATION,
        "ls_integration_version": __version__,
        "ls_agent_runtime": f"Codegen cloud agent (codegen-graph {__version__})",
    }
    if thread_id is not None:
        block["thread_id"] = str(thread_id)
    return block


def subagent_metadata(agent_run_id: int, role: str) -> dict[str, Any]:
    """The subagent-only fields of the run that stands for a remote Codegen run."""
    return {
        "ls_agent_type": "subagent",
        "ls_subagent_id": str(agent_run_id),
        "ls_subagent_type": role,
    }
