"""Observability for codegen-graph: LangSmith traces, redaction, metrics and spans.

* :func:`enable_tracing` / :func:`tracing` turn LangSmith tracing on with redaction;
  :func:`trace_operation` and :func:`trace_log_entry` put Codegen operations and the remote
  agent's steps into the trace.
* :class:`Redactor` removes known secrets and secret-shaped text from anything.
* :func:`coding_agent_metadata` / :func:`subagent_metadata`: LangSmith's coding agent
  metadata contract (``coding-agent-v1``), carried by every run codegen-graph traces.
* :class:`LangSmithSink` captures traces on 127.0.0.1 for tests and demos.
* :class:`Metrics` (Prometheus, optional) and :func:`span` (OpenTelemetry, optional).
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from .._metrics import Metrics
from .._otel import span
from .._redact import (
    DEFAULT_SECRET_ENV_VARS,
    DEFAULT_SECRET_PATTERNS,
    DEFAULT_SENSITIVE_KEYS,
    REDACTED,
    Redactor,
    get_redactor,
)
from ._contract import coding_agent_metadata, subagent_metadata

if _typing.TYPE_CHECKING:
    from ._langsmith import (
        OperationTrace,
        disable_tracing,
        enable_tracing,
        flush_tracing,
        log_entry_run_type,
        run_metadata,
        trace_log_entries,
        trace_log_entry,
        trace_operation,
        tracing,
        tracing_is_enabled,
    )
    from ._sink import LangSmithSink, SinkRequest, TraceNode

# The LangSmith integration and the sink (an HTTP server) load on first use, so the client
# layer, which only needs redaction, metrics and spans, never imports them.
_LAZY = {
    **dict.fromkeys(
        (
            "OperationTrace",
            "disable_tracing",
            "enable_tracing",
            "flush_tracing",
            "log_entry_run_type",
            "run_metadata",
            "trace_log_entries",
            "trace_log_entry",
            "trace_operation",
            "tracing",
            "tracing_is_enabled",
        ),
        "._langsmith",
    ),
    **dict.fromkeys(("LangSmithSink", "SinkRequest", "TraceNode"), "._sink"),
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_SECRET_ENV_VARS",
    "DEFAULT_SECRET_PATTERNS",
    "DEFAULT_SENSITIVE_KEYS",
    "REDACTED",
    "LangSmithSink",
    "Metrics",
    "OperationTrace",
    "Redactor",
    "SinkRequest",
    "TraceNode",
    "coding_agent_metadata",
    "disable_tracing",
    "enable_tracing",
    "flush_tracing",
    "get_redactor",
    "log_entry_run_type",
    "run_metadata",
    "span",
    "subagent_metadata",
    "trace_log_entries",
    "trace_log_entry",
    "trace_operation",
    "tracing",
    "tracing_is_enabled",
]
