"""codegen_graph.studio: client selection from the environment and the graph factories."""

from __future__ import annotations

import ast
import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from codegen_graph import AsyncCodegenClient, CodegenClient, ConfigurationError, studio
from codegen_graph.clock import ScaledClock
from codegen_graph.local import LocalCodegen

ENV = ("CODEGEN_API_TOKEN", "CODEGEN_TOKEN", "CODEGEN_ORG_ID", "CODEGEN_API_BASE_URL")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (*ENV, studio.TIME_SCALE_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    studio.reset_client()
    yield
    studio.reset_client()


def test_no_token_uses_the_embedded_backend_with_the_time_scale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(studio.TIME_SCALE_ENV_VAR, "250")
    client = studio.client_from_env()
    assert client is studio.client_from_env(), "one client per process"
    assert isinstance(client.clock, ScaledClock)
    assert client.clock.scale == 250
    assert "embedded local backend" in capsys.readouterr().err
    run = client.agent_runs.create("Add a /health endpoint")
    assert client.agent_runs.get(run.id).id == run.id


def test_default_time_scale_is_60() -> None:
    clock = studio.client_from_env().clock
    assert isinstance(clock, ScaledClock) and clock.scale == 60


@pytest.mark.parametrize("raw", ["fast", "0", "-3"])
def test_bad_time_scale_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(studio.TIME_SCALE_ENV_VAR, raw)
    with pytest.raises(ConfigurationError, match="CODEGEN_GRAPH_TIME_SCALE"):
        studio.client_from_env()


def test_token_selects_the_real_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
    monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    monkeypatch.setenv("CODEGEN_API_BASE_URL", "https://codegen.example.com")
    client = studio.client_from_env()
    assert type(client) is CodegenClient
    assert client.org_id == 42 and client.base_url.startswith("https://codegen.example.com")
    assert "cg-secret" not in repr(client)


def test_a_served_local_backend_keeps_its_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """``codegen-graph serve --time-scale 40`` named by its URL: the client keeps its time
    (budgets, Retry-After, polling); the Codegen API itself is never on simulated time."""
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
    monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    monkeypatch.setenv(studio.TIME_SCALE_ENV_VAR, "40")
    real = studio.client_from_env().clock
    assert not isinstance(real, ScaledClock)
    studio.reset_client()
    monkeypatch.setenv("CODEGEN_API_BASE_URL", "http://127.0.0.1:8787")
    served = studio.async_client_from_env().clock
    assert isinstance(served, ScaledClock) and served.scale == 40
    assert studio.client_from_env().clock is served


def test_a_time_scale_never_applies_to_an_api_off_loopback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A proxy in front of the real API and a leftover time scale: real time, and a WARNING
    saying the scale is ignored (rate budgets on compressed time would overspend the org)."""
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
    monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    monkeypatch.setenv(studio.TIME_SCALE_ENV_VAR, "40")
    monkeypatch.setenv("CODEGEN_API_BASE_URL", "https://codegen-proxy.example.com/api")
    with caplog.at_level(logging.WARNING, logger="codegen_graph.studio"):
        clock = studio.async_client_from_env().clock
    assert not isinstance(clock, ScaledClock)
    assert not isinstance(studio.client_from_env().clock, ScaledClock)
    assert f"{studio.TIME_SCALE_ENV_VAR} is ignored" in caplog.text


@pytest.mark.parametrize("backend", ["real API", "embedded"])
def test_the_process_clients_share_one_budget_and_one_breaker(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """The sync twin's calls (a user's own node, the CLI in the same process) count against
    the budget the server's graphs spend, and one breaker trips for both."""
    if backend == "real API":
        monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
        monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    else:
        monkeypatch.setenv(studio.TIME_SCALE_ENV_VAR, "600")
    client, aclient = studio.client_from_env(), studio.async_client_from_env()
    assert aclient.rate_budgets is client.rate_budgets and aclient.circuit is client.circuit
    now = client.clock.now()
    assert aclient.rate_budgets.next_free_at("create", now) == now
    calls = client.rate_budgets.budgets.create.calls  # type: ignore[union-attr]
    for _ in range(calls):  # the sync twin spends the org's create budget
        client.rate_budgets.reserve("create", now)
    assert aclient.rate_budgets.next_free_at("create", now) > now  # the server's graphs wait


def test_reset_client_closes_the_async_client_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
    monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    client, aclient = studio.client_from_env(), studio.async_client_from_env()
    studio.reset_client()
    assert client.closed and aclient.closed


async def test_reset_client_on_a_running_loop_closes_the_async_client_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
    monkeypatch.setenv("CODEGEN_ORG_ID", "42")
    aclient = studio.async_client_from_env()
    studio.reset_client()  # from async code: the close is a task of this loop
    for _ in range(100):
        if aclient.closed:
            break
        await asyncio.sleep(0)  # let the closing task run (no time passes)
    assert aclient.closed


def test_token_without_org_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_API_TOKEN", "cg-secret-token-value-123456")
    with pytest.raises(ConfigurationError, match="CODEGEN_ORG_ID"):
        studio.client_from_env()


def test_build_feature_graph_takes_its_options_from_the_context() -> None:
    with LocalCodegen(time_scale=600) as backend, backend.client() as client:
        graph = studio.build_feature_graph({"configurable": {}}, client=client)
        assert graph.checkpointer is None, "LangGraph Server supplies the checkpointer"
        assert graph.name == "feature"
        assert {"code", "tests", "docs", "gate", "approval", "report"} <= set(graph.nodes)
        options = {"max_iterations": "2", "require_approval": "true"}
        paused = graph.invoke({"task": "Add a /health endpoint"}, context=options)
        assert "report" not in paused and paused["__interrupt__"], "approval was required"
        assert paused["options"] == {"max_iterations": 2, "require_approval": True, "repo_id": None}
        done = graph.invoke({"task": "Add a /health endpoint"}, context={})
        assert done["report"]["verdict"] == "passed"


@pytest.mark.parametrize(
    ("context", "match"),
    [
        ({"max_iterations": "many"}, "max_iterations"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"repo_id": True}, "repo_id"),
        ({"require_approval": "perhaps"}, "require_approval"),
        ({"require_aproval": True}, "require_aproval"),
    ],
)
def test_bad_context_option(context: dict[str, Any], match: str) -> None:
    with (
        LocalCodegen(time_scale=600) as backend,
        backend.client() as client,
        pytest.raises(ConfigurationError, match=match),
    ):
        studio.build_feature_graph(client=client).invoke({"task": "x"}, context=context)


def test_feature_graph_schemas_are_the_task_and_the_options() -> None:
    with LocalCodegen(time_scale=600) as backend, backend.client() as client:
        graph = studio.build_feature_graph(client=client)
        inputs = graph.get_input_jsonschema()
        assert set(inputs["properties"]) == {"task"} and inputs["required"] == ["task"]
        context = graph.get_context_jsonschema()
        assert context is not None
        props = context["properties"]
        assert set(props) == {"max_iterations", "require_approval", "repo_id"}
        assert all(p.get("description") for p in props.values()), props


async def test_feature_graph_factory_reuses_the_process_client() -> None:
    client = studio.client_from_env()  # built here, in process: the factory reuses it
    async with studio.feature_graph({"configurable": {}}) as graph:
        assert graph.checkpointer is None
        assert "gate" in graph.nodes
        # its agents are coroutines on the async twin: no worker thread held per wait
        # (the event loop's default pool has min(32, CPUs + 4) threads)
        agents = [graph.nodes[name].bound for name in ("code", "tests", "docs")]
        assert all(getattr(node, "func", "sync") is None for node in agents), agents
    assert studio.client_from_env() is client


def test_the_context_schema_carries_the_defaults() -> None:
    with LocalCodegen(time_scale=600) as backend, backend.client() as client:
        context = studio.build_feature_graph(client=client).get_context_jsonschema()
    assert context is not None
    props = context["properties"]
    assert {name: p["default"] for name, p in props.items()} == {
        "max_iterations": 3,
        "require_approval": False,
        "repo_id": None,
    }
    assert props["max_iterations"]["type"] == "integer" and props["max_iterations"]["description"]
    assert context["title"] == "FeatureOptions" and context["description"]


def test_the_schemas_are_built_without_parsing_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Attribute docstrings would make pydantic parse the module's source at schema time: it
    needs the source file, and CPython 3.11.7 can fail it ("AST constructor recursion depth
    mismatch") while another thread parses too. The descriptions are Field metadata instead."""

    def no_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ast.parse called while building a schema")

    with LocalCodegen(time_scale=600) as backend, backend.client() as client:
        graph = studio.build_feature_graph(client=client)
        with monkeypatch.context() as patched:  # undone before pytest reports (it parses)
            patched.setattr(ast, "parse", no_parse)
            context, given = graph.get_context_jsonschema(), graph.get_input_jsonschema()
    assert context is not None and context["properties"]["repo_id"]["description"]
    assert given["properties"]["task"]["description"].startswith("The feature to build")


@pytest.mark.parametrize("factory", [studio.feature_graph, studio.supervisor_graph])
async def test_the_server_factories_answer_from_a_cache_after_the_first_call(
    factory: Any,
) -> None:
    studio.client_from_env()  # in process: the first call's cost is the backend's start
    async with factory({"configurable": {"thread_id": "a"}}) as first:
        pass
    started = time.perf_counter()
    for thread in "bcdefghijk":
        async with factory({"configurable": {"thread_id": thread}}) as again:
            assert again is first  # compiled once (the server copies it per request)
    per_call = (time.perf_counter() - started) / 10
    assert per_call < 0.01, per_call  # LangGraph Server logs "Slow graph load" above 0.1 s


@pytest.fixture
def server_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The factories quiet the logs as under ``langgraph dev``; put them back afterwards."""
    ours, httpx_logger = logging.getLogger("codegen_graph"), logging.getLogger("httpx")
    level, filters = ours.level, list(httpx_logger.filters)
    client = CodegenClient("t0ken-for-logs", 7)
    monkeypatch.setattr(studio, "_client", None)  # the next factory call builds the client
    monkeypatch.setattr(studio, "client_from_env", lambda **kw: client)
    monkeypatch.setattr(studio, "_async_client", AsyncCodegenClient("t0ken-for-logs", 7))
    yield
    client.close()
    ours.setLevel(level)
    httpx_logger.filters[:] = filters


def _request_line(url: str) -> logging.LogRecord:
    args = ("GET", url, "HTTP/1.1", 200, "OK")
    return logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s", args, None)


def _shown(record: logging.LogRecord) -> bool:
    return all(f.filter(record) for f in logging.getLogger("httpx").filters)


@pytest.mark.usefixtures("server_logging")
async def test_under_the_server_the_logs_are_quiet_by_default() -> None:
    async with studio.feature_graph({"configurable": {}}):
        pass
    assert logging.getLogger("codegen_graph").getEffectiveLevel() == logging.WARNING
    assert not _shown(_request_line("https://api.codegen.com/v1/organizations/7/agent/runs"))
    assert _shown(_request_line("https://api.smith.langchain.com/runs"))  # not ours


@pytest.mark.usefixtures("server_logging")
async def test_the_log_level_variable_brings_them_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(studio.LOG_LEVEL_ENV_VAR, "info")
    async with studio.feature_graph({"configurable": {}}):
        pass
    assert logging.getLogger("codegen_graph").getEffectiveLevel() == logging.INFO
    assert _shown(_request_line("https://api.codegen.com/v1/organizations/7/agent/runs"))


@pytest.mark.usefixtures("server_logging")
async def test_a_bad_log_level_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(studio.LOG_LEVEL_ENV_VAR, "verbose")
    with pytest.raises(ConfigurationError, match="CODEGEN_GRAPH_LOG_LEVEL must be DEBUG, INFO"):
        async with studio.feature_graph({"configurable": {}}):
            pass  # pragma: no cover
