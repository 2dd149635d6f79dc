"""Prometheus metrics and OpenTelemetry spans, and working without either installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from codegen_graph import NotFoundError
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen
from codegen_graph.observability import Metrics, span
from codegen_graph.plugins import call_context


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_counts_land_in_a_fresh_registry() -> None:
    registry = CollectorRegistry()
    m = Metrics(registry)
    assert m.enabled
    route = "/v1/organizations/{org_id}/agent/run"
    for role in ("code", "code", "review"):
        m.record_run_created(role)
    m.record_run_finished("code", "COMPLETE", wait_seconds=12.0)
    m.record_run_finished("code", "failed", wait_seconds=3.0)
    m.record_run_finished("review", "CANCELLED")
    m.record_run_finished("review", "RUNNING")  # not terminal: counted nowhere
    m.record_request(route, 200, seconds=0.2)
    m.record_request(route, 429)
    m.record_request(route, 429)
    m.record_request(route, "error")
    m.record_retry(route)
    m.record_retry(route)

    assert _value(registry, "codegen_graph_runs_created_total", role="code") == 2
    assert _value(registry, "codegen_graph_runs_created_total", role="review") == 1
    assert _value(registry, "codegen_graph_runs_completed_total", role="code") == 1
    assert _value(registry, "codegen_graph_runs_failed_total", role="code", status="FAILED") == 1
    assert (
        _value(registry, "codegen_graph_runs_failed_total", role="review", status="CANCELLED") == 1
    )
    assert _value(registry, "codegen_graph_runs_completed_total", role="review") == 0
    assert _value(registry, "codegen_graph_run_wait_seconds_count", role="code") == 2
    assert _value(registry, "codegen_graph_run_wait_seconds_sum", role="code") == 15.0
    assert _value(registry, "codegen_graph_http_requests_total", route=route, status="200") == 1
    assert _value(registry, "codegen_graph_http_requests_total", route=route, status="429") == 2
    assert _value(registry, "codegen_graph_http_requests_total", route=route, status="error") == 1
    assert _value(registry, "codegen_graph_http_rate_limited_total", route=route) == 2
    assert _value(registry, "codegen_graph_http_retries_total", route=route) == 2
    assert _value(registry, "codegen_graph_http_request_seconds_count", route=route) == 1


def test_two_metrics_objects_share_one_registry() -> None:
    registry = CollectorRegistry()
    Metrics(registry).record_run_created("code")
    Metrics(registry).record_run_created("code")  # no "duplicated timeseries" error
    assert _value(registry, "codegen_graph_runs_created_total", role="code") == 2
    other = CollectorRegistry()
    Metrics(other, namespace="x").record_run_created(None)
    assert _value(other, "x_runs_created_total", role="unknown") == 1


@pytest.fixture
def spans() -> Iterator[object]:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The global provider can be set only once per process; patch the lookup instead.
    original = trace.get_tracer
    trace.get_tracer = provider.get_tracer  # type: ignore[assignment]
    try:
        yield exporter
    finally:
        trace.get_tracer = original


def test_spans_carry_redacted_attributes_and_errors(
    spans: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    assert isinstance(spans, InMemorySpanExporter)
    monkeypatch.setenv("CODEGEN_API_TOKEN", "tok-very-secret")
    attrs = {"codegen.agent_run_id": 7, "note": "tok-very-secret", "x": None}
    with span("codegen.wait", attrs), pytest.raises(ValueError), span("codegen.http"):
        raise ValueError("bad tok-very-secret")
    inner, outer = spans.get_finished_spans()
    assert outer.name == "codegen.wait"
    assert dict(outer.attributes or {}) == {"codegen.agent_run_id": 7, "note": "[REDACTED]"}
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    assert inner.status.status_code is StatusCode.ERROR
    (event,) = inner.events
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "bad [REDACTED]"
    assert "tok-very-secret" not in repr(inner.to_json())


def test_client_spans_follow_the_genai_and_http_conventions(spans: object) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    assert isinstance(spans, InMemorySpanExporter)
    token, prompt = "tok-span-canary-61d0", "Add a /health endpoint (prompt-canary-93be)"
    with LocalCodegen(token=token, clock=ManualClock()) as local, local.client() as client:
        with call_context(role="code"):
            run = client.agent_runs.start(prompt, model="claude-sonnet-4")
            run.wait(timeout=600)
            run.resume("Also cover the errors")
        client.agent_runs.create("Document it")  # no role: an unnamed agent
        with pytest.raises(NotFoundError):
            client.agent_runs.get(999_999)
    finished = spans.get_finished_spans()
    create, resume = [s for s in finished if s.name == "invoke_agent code"]
    agent = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "codegen",
        "gen_ai.system": "codegen",
        "gen_ai.agent.name": "code",
        "gen_ai.agent.id": str(run.id),
        "gen_ai.conversation.id": str(run.id),
        "codegen.agent_run_id": run.id,
        "codegen.org_id": local.org_id,
        "codegen.role": "code",
        "http.request.method": "POST",
    }
    assert dict(create.attributes or {}) == {
        **agent,
        "gen_ai.request.model": "claude-sonnet-4",
        "codegen.agent_run_status": "PENDING",
        "codegen.prompt_length": len(prompt),
        "url.template": "/v1/organizations/{org_id}/agent/run",
    }
    assert dict(resume.attributes or {}) == {
        **agent,
        "codegen.agent_run_status": "ACTIVE",
        "codegen.prompt_length": len("Also cover the errors"),
        "url.template": "/v1/organizations/{org_id}/agent/run/resume",
    }
    assert create.kind is resume.kind is SpanKind.CLIENT
    (wait,) = [s for s in finished if s.name == "codegen.wait"]
    assert dict(wait.attributes or {}) == {
        **{k: v for k, v in agent.items() if not k.startswith(("gen_ai.op", "http."))},
        "codegen.agent_run_status": "COMPLETE",  # what the wait saw the run end with
    }
    (unnamed,) = [s for s in finished if s.name == "invoke_agent"]
    assert unnamed.attributes is not None and "gen_ai.agent.name" not in unnamed.attributes
    missing = [s for s in finished if s.name.endswith("/agent/run/{agent_run_id}")]
    assert missing[-1].name == "GET /v1/organizations/{org_id}/agent/run/{agent_run_id}"
    assert missing[-1].kind is SpanKind.CLIENT
    assert missing[-1].status.status_code is StatusCode.ERROR
    assert missing[-1].attributes is not None
    assert missing[-1].attributes["error.type"] == "NotFoundError"
    exported = "".join(s.to_json() for s in finished)
    assert "prompt-canary-93be" not in exported and token not in exported


def test_package_works_without_prometheus_and_opentelemetry() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["prometheus_client"] = None
        sys.modules["opentelemetry"] = None
        sys.modules["opentelemetry.trace"] = None
        import codegen_graph.observability as obs
        m = obs.Metrics()
        assert not m.enabled
        m.record_request("/r", 429); m.record_retry("/r")
        m.record_run_created("code"); m.record_run_finished("code", "COMPLETE", 1.0)
        with obs.span("codegen.wait", {"a": 1}) as s:
            assert s is None
        try:
            with obs.span("x"):
                raise KeyError("boom")
        except KeyError:
            pass
        else:
            raise SystemExit("exception swallowed")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
