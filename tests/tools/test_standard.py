"""The langchain-tests standard suites, for every Codegen tool, against the local backend.

The suites build the tool from ``tool_constructor`` and ``tool_constructor_params``; the
autouse fixture below gives them a backend with a finished run in it (for the tools that
take a run id) and real clients for both sync and async calls.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from codegen_graph import AsyncCodegenClient, CodegenClient
from codegen_graph.tools import (
    CodegenGetAgentRunLogsTool,
    CodegenGetAgentRunTool,
    CodegenListAgentRunsTool,
    CodegenListReposTool,
    CodegenResumeAgentRunTool,
    CodegenRunAgentTool,
    CodegenStopAgentRunTool,
)


class _OnLocalBackend:
    clients: dict[str, Any]
    run_id: int

    @pytest.fixture(autouse=True)
    def _backend(
        self, client: CodegenClient, aclient: AsyncCodegenClient, finished_run: int
    ) -> None:
        self.clients = {"client": client, "async_client": aclient}
        self.run_id = finished_run

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return dict(self.clients)


class _RunAgent(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenRunAgentTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "Add a /version endpoint", "timeout": 600}


class _GetAgentRun(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenGetAgentRunTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"agent_run_id": self.run_id}


class _ResumeAgentRun(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenResumeAgentRunTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"agent_run_id": self.run_id, "prompt": "Also add a test for it"}


class _StopAgentRun(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenStopAgentRunTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"agent_run_id": self.run_id}


class _ListAgentRuns(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenListAgentRunsTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"limit": 5}


class _GetAgentRunLogs(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenGetAgentRunLogsTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"agent_run_id": self.run_id, "limit": 10, "newest_first": True}


class _ListRepos(_OnLocalBackend):
    tool_constructor: type[BaseTool] = CodegenListReposTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {}


class TestRunAgentUnit(_RunAgent, ToolsUnitTests):
    pass


class TestRunAgentIntegration(_RunAgent, ToolsIntegrationTests):
    pass


class TestGetAgentRunUnit(_GetAgentRun, ToolsUnitTests):
    pass


class TestGetAgentRunIntegration(_GetAgentRun, ToolsIntegrationTests):
    pass


class TestResumeAgentRunUnit(_ResumeAgentRun, ToolsUnitTests):
    pass


class TestResumeAgentRunIntegration(_ResumeAgentRun, ToolsIntegrationTests):
    pass


class TestStopAgentRunUnit(_StopAgentRun, ToolsUnitTests):
    pass


class TestStopAgentRunIntegration(_StopAgentRun, ToolsIntegrationTests):
    pass


class TestListAgentRunsUnit(_ListAgentRuns, ToolsUnitTests):
    pass


class TestListAgentRunsIntegration(_ListAgentRuns, ToolsIntegrationTests):
    pass


class TestGetAgentRunLogsUnit(_GetAgentRunLogs, ToolsUnitTests):
    pass


class TestGetAgentRunLogsIntegration(_GetAgentRunLogs, ToolsIntegrationTests):
    pass


class TestListReposUnit(_ListRepos, ToolsUnitTests):
    pass


class TestListReposIntegration(_ListRepos, ToolsIntegrationTests):
    pass
