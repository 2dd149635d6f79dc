"""The supervisor's delegation tool: ``codegen_run_agent`` with a ``role``.

It is the toolkit's :class:`~codegen_graph.tools.CodegenRunAgentTool` plus three things a
supervisor needs:

* a required ``role`` argument (one of the workflow's roles); the role's instructions are
  added after the model's prompt and the role is stored in the run's metadata
  (:data:`ROLE_METADATA_KEY`), so every later artifact of the run (a resume, a get) names
  its role;
* exactly-once launch: inside a graph, the launch carries an idempotency key derived from
  the thread and the tool call id. The tool call id is part of the checkpointed
  ``AIMessage``, so when LangGraph re-executes the tools node (a crash, an aborted stream,
  a retry) the call finds the run it already created instead of paying for a second one;
* a run ending ``FAILED`` is a normal result (``raise_on_failure=False``), so its artifact
  can be recorded in ``state["runs"]``; the content says ``FAILED`` and how to resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from .. import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from ._async import work as async_work
from ._sync import work
from ._tools import CodegenRunAgentTool, RunAgentArgs, ToolArgs

__all__ = ["ROLE_METADATA_KEY", "RoleRunAgentTool"]

#: The run metadata key holding the role a supervisor delegated the run to (the same key
#: :func:`~codegen_graph.graph.codegen_node` writes).
ROLE_METADATA_KEY = "codegen_graph_role"


def _args_schema(roles: Mapping[str, str]) -> type[BaseModel]:
    names = tuple(roles)
    role_type: Any = Literal[names]
    fields: dict[str, Any] = {
        "role": (
            role_type,
            Field(description="Which agent does the work: " + ", ".join(names) + "."),
        ),
    }
    for name, info in RunAgentArgs.model_fields.items():
        fields[name] = (info.annotation, info)
    model: type[BaseModel] = create_model(
        "DelegateArgs",
        __base__=ToolArgs,
        __doc__="Arguments of codegen_run_agent.",
        **fields,
    )
    return model


class RoleRunAgentTool(CodegenRunAgentTool):
    """``codegen_run_agent`` for a supervisor: hand a task to the agent of one role.

    Attributes:
        roles: role name -> instructions added after the model's prompt.
        default_repo_id: the repository used when the model gives no ``repo_id``.
    """

    roles: dict[str, str] = Field(default_factory=dict)
    default_repo_id: int | None = None
    raise_on_failure: bool = False
    _work = work.delegate
    _awork = async_work.async_delegate

    def __init__(
        self,
        *,
        roles: Mapping[str, str],
        client: CodegenClient | None = None,
        async_client: AsyncCodegenClient | None = None,
        **kwargs: Any,
    ) -> None:
        roles = dict(roles)
        if not roles:
            raise ConfigurationError("roles must name at least one agent role")
        bad = [r for r in roles if not isinstance(r, str) or not r.strip() or ":" in r]
        if bad:
            raise ConfigurationError(f"role names must be non-empty strings without ':', got {bad}")
        kwargs.setdefault(
            "description",
            "Hand a task to one of these Codegen cloud agents, which works in the repository "
            "on its own and usually opens a pull request:\n"
            + "\n".join(f"- {role}: {_first_line(text)}" for role, text in roles.items())
            + "\nReturns the run id, status, result and pull request links. Calls in the "
            "same turn run in parallel. Use codegen_resume_agent_run to follow up on a run.",
        )
        kwargs.setdefault("args_schema", _args_schema(roles))
        super().__init__(client=client, async_client=async_client, roles=roles, **kwargs)

    def _event_fields(self, params: Any) -> dict[str, Any]:
        return {"tool": self.name, "role": params.role}

    def _task(self, params: Any) -> str:
        # The task first (it is what the agent titles its pull request after), then the role.
        return f"{params.prompt}\n\nYour role: {self.roles[params.role].strip()}"

    def _launch(self, params: Any) -> tuple[str, dict[str, Any]]:
        prompt, create = super()._launch(params)  # the model's choices, the call's key
        if create["repo_id"] is None:
            create["repo_id"] = self.default_repo_id
        create["metadata"] = {ROLE_METADATA_KEY: params.role}
        if "idempotency_key" in create:  # a re-executed call attaches to its run
            create["reuse_existing"] = True
        return prompt, create


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:200]
