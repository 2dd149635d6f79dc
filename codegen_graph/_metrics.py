"""Prometheus metrics for Codegen runs and API calls (optional: ``pip install '.[prometheus]'``).

``prometheus_client`` is imported lazily; without it a :class:`Metrics` object is a no-op
(``metrics.enabled`` is ``False``), so callers never branch on whether it is installed.

Metric names (``namespace`` defaults to ``codegen_graph``)::

    <ns>_runs_created_total{role}
    <ns>_runs_resumed_total{role}
    <ns>_runs_completed_total{role}
    <ns>_runs_failed_total{role,status}
    <ns>_run_wait_seconds{role}                      histogram
    <ns>_http_requests_total{route,status}
    <ns>_http_request_seconds{route}                 histogram
    <ns>_http_rate_limited_total{route}              429 answers
    <ns>_http_retries_total{route}

``route`` is the path *template* (``/v1/organizations/{org_id}/agent/run/{agent_run_id}``),
never a concrete path, so label cardinality stays bounded.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._status import AgentRunStatus

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["Metrics"]

_WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
_HTTP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_lock = threading.Lock()
# Collectors per (registry, namespace): registering a name twice in one registry raises.
_collectors: dict[tuple[int, str], dict[str, Any]] = {}


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        return None
    return prometheus_client


def _label(value: str | None) -> str:
    return value if value else "unknown"


class Metrics:
    """Counters and histograms for runs and HTTP calls.

    Args:
        registry: The ``prometheus_client.CollectorRegistry`` to register in (default: the
            global ``REGISTRY``). Two ``Metrics`` on the same registry and namespace share
            their collectors.
        namespace: Prefix of every metric name.

    Examples:
        >>> from prometheus_client import CollectorRegistry
        >>> registry = CollectorRegistry()
        >>> m = Metrics(registry)
        >>> m.record_run_created("code")
        >>> registry.get_sample_value("codegen_graph_runs_created_total", {"role": "code"})
        1.0
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "codegen_graph"
    ) -> None:
        prom = _prometheus()
        self._c: dict[str, Any] | None = None
        if prom is None:
            return
        reg = registry if registry is not None else prom.REGISTRY
        key = (id(reg), namespace)
        with _lock:
            existing = _collectors.get(key)
            if existing is None or existing["registry"] is not reg:
                existing = self._create(prom, reg, namespace)
                _collectors[key] = existing
        self._c = existing

    @staticmethod
    def _create(prom: Any, reg: Any, ns: str) -> dict[str, Any]:
        counter, histogram = prom.Counter, prom.Histogram
        return {
            "registry": reg,
            "created": counter(
                "runs_created", "Agent runs created", ["role"], namespace=ns, registry=reg
            ),
            "resumed": counter(
                "runs_resumed", "Agent runs resumed with a follow-up prompt", ["role"],
                namespace=ns, registry=reg,
            ),
            "completed": counter(
                "runs_completed", "Agent runs that ended COMPLETE", ["role"], namespace=ns,
                registry=reg,
            ),
            "failed": counter(
                "runs_failed", "Agent runs that ended FAILED, ERROR or CANCELLED",
                ["role", "status"], namespace=ns, registry=reg,
            ),
            "wait": histogram(
                "run_wait_seconds", "Time spent waiting for an agent run to finish", ["role"],
                namespace=ns, registry=reg, buckets=_WAIT_BUCKETS,
            ),
            "requests": counter(
                "http_requests", "Codegen API requests by route template and status",
                ["route", "status"], namespace=ns, registry=reg,
            ),
            "latency": histogram(
                "http_request_seconds", "Codegen API request latency", ["route"],
                namespace=ns, registry=reg, buckets=_HTTP_BUCKETS,
            ),
            "rate_limited": counter(
                "http_rate_limited", "429 answers from the Codegen API", ["route"],
                namespace=ns, registry=reg,
            ),
            "retries": counter(
                "http_retries", "Retried Codegen API requests", ["route"], namespace=ns,
                registry=reg,
            ),
        }  # fmt: skip

    @property
    def enabled(self) -> bool:
        """Whether ``prometheus_client`` is installed and metrics are being recorded."""
        return self._c is not None

    def record_request(self, route: str, status: int | str, seconds: float | None = None) -> None:
        """Count one API request (``status``: the HTTP code, or e.g. ``"error"``)."""
        c = self._c
        if c is None:
            return
        c["requests"].labels(route=route, status=str(status)).inc()
        if str(status) == "429":
            c["rate_limited"].labels(route=route).inc()
        if seconds is not None:
            c["latency"].labels(route=route).observe(seconds)

    def record_retry(self, route: str) -> None:
        """Count one retry of a request to ``route``."""
        if self._c is not None:
            self._c["retries"].labels(route=route).inc()

    def record_run_created(self, role: str | None = None) -> None:
        """Count one agent run created by a node with this role."""
        if self._c is not None:
            self._c["created"].labels(role=_label(role)).inc()

    def record_run_resumed(self, role: str | None = None) -> None:
        """Count one agent run resumed (sent a follow-up) by a node with this role."""
        if self._c is not None:
            self._c["resumed"].labels(role=_label(role)).inc()

    def record_run_finished(
        self, role: str | None, status: str, wait_seconds: float | None = None
    ) -> None:
        """Count a run that reached a terminal ``status`` and observe how long it was awaited.

        ``COMPLETE`` counts as completed; ``FAILED`` / ``ERROR`` / ``CANCELLED`` as failed
        (labelled with the canonical status); other statuses only record the wait.
        """
        c = self._c
        if c is None:
            return
        canonical = AgentRunStatus(status)
        if canonical.is_success:
            c["completed"].labels(role=_label(role)).inc()
        elif canonical.is_failure:
            c["failed"].labels(role=_label(role), status=canonical.canonical).inc()
        if wait_seconds is not None:
            c["wait"].labels(role=_label(role)).observe(wait_seconds)
