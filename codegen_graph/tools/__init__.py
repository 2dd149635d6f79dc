"""LangChain tools for Codegen agent runs (see ``docs/tools.md``).

``CodegenToolkit(client=...).get_tools()`` gives an agent seven tools: ``codegen_run_agent``,
``codegen_get_agent_run``, ``codegen_resume_agent_run``, ``codegen_stop_agent_run``,
``codegen_list_agent_runs``, ``codegen_get_agent_run_logs`` and ``codegen_list_repos``.
Each answers with short text for the model and the full wire model as the ``ToolMessage``
artifact, turns Codegen API errors into ``ToolMessage(status="error")`` with an actionable
sentence, and, while it waits on a run, dispatches each new remote log entry as a
:data:`CODEGEN_LOG_EVENT` custom event.
:class:`RoleRunAgentTool` is the supervisor's ``codegen_run_agent`` with a ``role``.
"""

from __future__ import annotations

from ._base import DEFAULT_TIMEOUT, CodegenTool
from ._bridge import CODEGEN_LOG_EVENT, log_event_data
from ._delegate import ROLE_METADATA_KEY, RoleRunAgentTool
from ._errors import CodegenToolError
from ._toolkit import TOOL_NAMES, CodegenToolkit
from ._tools import (
    CodegenGetAgentRunLogsTool,
    CodegenGetAgentRunTool,
    CodegenListAgentRunsTool,
    CodegenListReposTool,
    CodegenResumeAgentRunTool,
    CodegenRunAgentTool,
    CodegenStopAgentRunTool,
    TypedAgentRunResponse,
)

__all__ = [
    "CODEGEN_LOG_EVENT",
    "DEFAULT_TIMEOUT",
    "ROLE_METADATA_KEY",
    "TOOL_NAMES",
    "CodegenGetAgentRunLogsTool",
    "CodegenGetAgentRunTool",
    "CodegenListAgentRunsTool",
    "CodegenListReposTool",
    "CodegenResumeAgentRunTool",
    "CodegenRunAgentTool",
    "CodegenStopAgentRunTool",
    "CodegenTool",
    "CodegenToolError",
    "CodegenToolkit",
    "RoleRunAgentTool",
    "TypedAgentRunResponse",
    "log_event_data",
]
