"""Codegen agent runs inside LangGraph: shared state, reducers, retries and launch keys.

The public names are re-exported here; the modules with a leading underscore are private.
"""

from __future__ import annotations

from ._agent import CodegenAgentState, codegen_agent
from ._draw import draw_graph
from ._keys import launch_key
from ._messages import Summarizer, merge_messages, windowed_messages
from ._nodes import LOG_EVENT, PromptSpec, codegen_node, codegen_wait_node, render_prompt
from ._retry import codegen_retry_policy, is_retryable_codegen_error
from ._state import (
    ErrorRecord,
    GraphState,
    RunRecord,
    merge_counters,
    merge_dicts,
    merge_runs,
)
from ._supervisor import (
    DEFAULT_ROLES,
    DEFAULT_SUPERVISOR_PROMPT,
    SupervisorState,
    supervisor_workflow,
)
from ._workflows import (
    DEFAULT_PROMPTS,
    FeatureInput,
    FeatureOptions,
    FeatureState,
    feature_workflow,
    tests_failed,
)

__all__ = [
    "DEFAULT_PROMPTS",
    "DEFAULT_ROLES",
    "DEFAULT_SUPERVISOR_PROMPT",
    "LOG_EVENT",
    "CodegenAgentState",
    "ErrorRecord",
    "FeatureInput",
    "FeatureOptions",
    "FeatureState",
    "GraphState",
    "PromptSpec",
    "RunRecord",
    "Summarizer",
    "SupervisorState",
    "codegen_agent",
    "codegen_node",
    "codegen_retry_policy",
    "codegen_wait_node",
    "draw_graph",
    "feature_workflow",
    "is_retryable_codegen_error",
    "launch_key",
    "merge_counters",
    "merge_dicts",
    "merge_messages",
    "merge_runs",
    "render_prompt",
    "supervisor_workflow",
    "tests_failed",
    "windowed_messages",
]
