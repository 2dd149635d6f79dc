"""OpenTelemetry spans around client calls and waits (optional: ``pip install '.[otel]'``).

``opentelemetry`` is imported lazily; without it :func:`span` yields ``None`` and costs a
dictionary lookup. With it, spans go to whatever tracer provider the application set up
(none set: OpenTelemetry's own no-op provider). String attributes are redacted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ._redact import get_redactor

__all__ = ["set_attributes", "span"]

_TRACER_NAME = "codegen_graph"


@functools.lru_cache(maxsize=1)
def _otel_trace() -> Any:
    # Cached: a failed import is retried through every finder on each call otherwise.
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def _attribute(value: Any) -> Any:
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return get_redactor().redact_text(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (bool, int, float)) for v in value):
        return list(value)
    if isinstance(value, (list, tuple)):
        return [get_redactor().redact_text(str(v)) for v in value]
    return get_redactor().redact_text(str(value))


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: _attribute(v) for k, v in (attributes or {}).items() if v is not None}


def set_attributes(current: Any, attributes: Mapping[str, Any]) -> None:
    """Add attributes to a span :func:`span` yielded, converted alike (``None``: no span)."""
    if current is not None:
        current.set_attributes(_attributes(attributes))


@contextmanager
def span(
    name: str, attributes: Mapping[str, Any] | None = None, *, kind: str = "internal"
) -> Iterator[Any]:
    """Run a block inside an OpenTelemetry span named ``name`` (a no-op without otel).

    ``None`` attribute values are dropped; strings are redacted; other values that
    OpenTelemetry cannot hold are stringified. An exception escaping the block is recorded
    on the span as an ``exception`` event with a redacted message, sets ``error.type`` to
    its class name and marks the span as an error, then propagates.

    Args:
        name: The span name, e.g. ``"codegen.wait"`` or ``"GET /v1/..."``.
        attributes: Span attributes, e.g. ``{"codegen.agent_run_id": 7}``.
        kind: The span kind: ``"internal"``, or ``"client"`` for a call to a remote service.

    Yields:
        The ``opentelemetry.trace.Span``, or ``None`` when OpenTelemetry is not installed.
    """
    trace = _otel_trace()
    if trace is None:
        yield None
        return
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(
        name,
        kind=trace.SpanKind[kind.upper()],
        attributes=_attributes(attributes),
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            # OpenTelemetry's own recording would keep the raw message; redact it first.
            message = get_redactor().redact_text(str(exc))
            kind_of = type(exc).__qualname__
            current.add_event(
                "exception", {"exception.type": kind_of, "exception.message": message}
            )
            current.set_attribute("error.type", kind_of)
            current.set_status(trace.Status(trace.StatusCode.ERROR, message))
            raise
