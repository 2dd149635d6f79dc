"""codegen_graph.graph's public surface is deliberate: sorted, complete, importable."""

from __future__ import annotations

import types

import codegen_graph.graph as graph

EXPECTED = {
    "CodegenAgentState",
    "DEFAULT_PROMPTS",
    "ErrorRecord",
    "FeatureInput",
    "FeatureOptions",
    "FeatureState",
    "LOG_EVENT",
    "PromptSpec",
    "codegen_agent",
    "codegen_node",
    "codegen_wait_node",
    "draw_graph",
    "feature_workflow",
    "render_prompt",
    "tests_failed",
    "GraphState",
    "RunRecord",
    "Summarizer",
    "codegen_retry_policy",
    "is_retryable_codegen_error",
    "launch_key",
    "merge_counters",
    "merge_dicts",
    "merge_messages",
    "merge_runs",
    "windowed_messages",
    "DEFAULT_ROLES",
    "DEFAULT_SUPERVISOR_PROMPT",
    "SupervisorState",
    "supervisor_workflow",
}


def test_all_is_sorted_and_exactly_the_expected_names() -> None:
    assert set(graph.__all__) == EXPECTED


def test_every_public_attribute_is_exported() -> None:
    public = {
        name
        for name, value in vars(graph).items()
        if not name.startswith("_")
        and name != "annotations"
        and not isinstance(value, types.ModuleType)
    }
    assert public == set(graph.__all__)
