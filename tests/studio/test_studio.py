"""codegen_graph.studio: client selection from the environment and the graph factories."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from codegen_graph import CodegenClient, ConfigurationError, studio
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
    assert studio.client_from_env() is client
