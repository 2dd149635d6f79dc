"""Codegen agent runs inside LangGraph: shared state, reducers, retries and launch keys.

The public names are re-exported here; the modules with a leading underscore are private.
"""

from __future__ import annotations

from ._keys import launch_key
from ._messages import Summarizer, merge_messages, windowed_messages
from ._retry import codegen_retry_policy, is_retryable_codegen_error
from ._state import (
    ErrorRecord,
    GraphState,
    RunRecord,
    merge_counters,
    merge_dicts,
    merge_runs,
)

__all__ = [
    "ErrorRecord",
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
]
