"""``CodegenToolkit``: the Codegen tools, sharing one pair of clients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import Field

from .. import AsyncCodegenClient, CodegenClient
from .._exceptions import ConfigurationError
from ._base import DEFAULT_TIMEOUT, CodegenTool
from ._tools import (
    CodegenGetAgentRunLogsTool,
    CodegenGetAgentRunTool,
    CodegenListAgentRunsTool,
    CodegenListReposTool,
    CodegenResumeAgentRunTool,
    CodegenRunAgentTool,
    CodegenStopAgentRunTool,
)

__all__ = ["TOOL_NAMES", "CodegenToolkit"]

_TOOLS: dict[str, type[CodegenTool]] = {
    "codegen_run_agent": CodegenRunAgentTool,
    "codegen_get_agent_run": CodegenGetAgentRunTool,
    "codegen_resume_agent_run": CodegenResumeAgentRunTool,
    "codegen_stop_agent_run": CodegenStopAgentRunTool,
    "codegen_list_agent_runs": CodegenListAgentRunsTool,
    "codegen_get_agent_run_logs": CodegenGetAgentRunLogsTool,
    "codegen_list_repos": CodegenListReposTool,
}

#: The names of the toolkit's tools, in the order ``get_tools()`` returns them.
TOOL_NAMES: tuple[str, ...] = tuple(_TOOLS)


class CodegenToolkit(BaseToolkit):
    """The Codegen tools for a LangChain or LangGraph agent.

    Args:
        client: a :class:`~codegen_graph.CodegenClient` (for ``invoke``).
        async_client: an :class:`~codegen_graph.AsyncCodegenClient` (for ``ainvoke``). One
            of the two is enough; see :class:`~codegen_graph.tools.CodegenTool`.
        include: names of the tools to return (default: all of :data:`TOOL_NAMES`).
        default_timeout: seconds a waiting tool waits when the model gives no timeout.
        max_result_chars: run results longer than this are cut in the message content.

    Examples:
        >>> toolkit = CodegenToolkit(client=client, include=["codegen_run_agent"])  # doctest: +SKIP
        >>> [t.name for t in toolkit.get_tools()]  # doctest: +SKIP
        ['codegen_run_agent']
    """

    client: CodegenClient | None = Field(default=None, exclude=True, repr=False)
    async_client: AsyncCodegenClient | None = Field(default=None, exclude=True, repr=False)
    include: tuple[str, ...] | None = None
    default_timeout: float | None = DEFAULT_TIMEOUT
    max_result_chars: int = 2000

    model_config = {"arbitrary_types_allowed": True}

    def __init__(
        self,
        *,
        client: CodegenClient | None = None,
        async_client: AsyncCodegenClient | None = None,
        include: Sequence[str] | None = None,
        default_timeout: float | None = DEFAULT_TIMEOUT,
        max_result_chars: int = 2000,
        **kwargs: Any,
    ) -> None:
        if client is None and async_client is None:
            raise ConfigurationError(
                "CodegenToolkit needs a client: pass client=CodegenClient(...) "
                "and/or async_client=AsyncCodegenClient(...)"
            )
        if include is not None:
            if isinstance(include, str):
                raise ConfigurationError(f"include must be a list of tool names, not {include!r}")
            unknown = [name for name in include if name not in _TOOLS]
            if unknown:
                raise ConfigurationError(
                    f"unknown Codegen tool name(s) {unknown}; choose from {list(TOOL_NAMES)}"
                )
            include = tuple(include)
        super().__init__(
            client=client,
            async_client=async_client,
            include=include,
            default_timeout=default_timeout,
            max_result_chars=max_result_chars,
            **kwargs,
        )

    def get_tools(self) -> list[BaseTool]:
        """New tool instances sharing the toolkit's clients, in :data:`TOOL_NAMES` order."""
        wanted = set(self.include) if self.include is not None else set(_TOOLS)
        return [
            cls(
                client=self.client,
                async_client=self.async_client,
                default_timeout=self.default_timeout,
                max_result_chars=self.max_result_chars,
            )
            for name, cls in _TOOLS.items()
            if name in wanted
        ]
