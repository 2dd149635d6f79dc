"""codegen_graph.studio's supervisor factory: a real model is required, options apply."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult

from codegen_graph import ConfigurationError, studio
from codegen_graph.local import LocalCodegen

_ids = itertools.count()


class _Looping(GenericFakeChatModel):
    """Lists runs forever (a fresh tool call id each turn): only max_turns stops it."""

    disable_streaming: bool = True
    turns: int = 0

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> _Looping:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.turns += 1
        call = {"name": "codegen_list_agent_runs", "args": {}, "id": f"c{next(_ids)}"}
        self.messages = iter([AIMessage("", tool_calls=[call])])
        return super()._generate(messages, *args, **kwargs)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("CODEGEN_API_TOKEN", "CODEGEN_TOKEN", "CODEGEN_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(studio.SUPERVISOR_MODEL_ENV_VAR, raising=False)
    studio.reset_client()
    yield
    studio.reset_client()


def test_no_model_configured_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match=studio.SUPERVISOR_MODEL_ENV_VAR) as info:
        studio.build_supervisor_graph()
    assert "provider:model" in str(info.value)


@pytest.mark.parametrize("spec", ["no-such-provider:some-model", "just-a-name-without-provider"])
def test_an_unusable_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv(studio.SUPERVISOR_MODEL_ENV_VAR, spec)
    with pytest.raises(ConfigurationError, match=studio.SUPERVISOR_MODEL_ENV_VAR):
        studio.supervisor_model_from_env()


@pytest.mark.parametrize("spec", [None, "no-such-provider:some-model"])
async def test_without_a_usable_model_the_server_graph_opens_and_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, spec: str | None
) -> None:
    if spec is not None:
        monkeypatch.setenv(studio.SUPERVISOR_MODEL_ENV_VAR, spec)
    client = studio.client_from_env()  # in process
    async with studio.supervisor_graph({"configurable": {}}) as graph:
        # Studio opens it: the drawing and the schemas, no model needed.
        assert {"supervisor", "tools", "record", "report"} <= set(graph.get_graph().nodes)
        assert "task" in graph.get_input_jsonschema()["properties"]
        out = await graph.ainvoke({"task": "Add a /health endpoint"})
    # A run is one clear message, not an exception (the server would log its traceback).
    answer = out["report"]["answer"]
    assert studio.SUPERVISOR_MODEL_ENV_VAR in answer and "restart the server" in answer
    assert out["report"]["agents"] == {} and client.agent_runs.list().items == []


def test_build_supervisor_graph_reads_configurable_options() -> None:
    with LocalCodegen(time_scale=600) as backend, backend.client() as client:
        model = _Looping(messages=iter([]))
        graph = studio.build_supervisor_graph(
            {"configurable": {"max_turns": "3"}}, model=model, client=client
        )
        assert graph.checkpointer is None and graph.name == "supervisor"
        out = graph.invoke({"task": "Look around"})
        assert model.turns == 3 and out["report"]["verdict"] == "max_turns"
        with pytest.raises(ConfigurationError, match="max_turns"):
            studio.build_supervisor_graph(
                {"configurable": {"max_turns": "lots"}}, model=model, client=client
            )


@pytest.mark.parametrize(
    ("configurable", "match"),
    [
        ({"max_turns": True}, "configurable.max_turns must be an integer"),
        ({"max_turns": 2.5}, "configurable.max_turns must be an integer"),
        ({"max_turns": 0}, "configurable.max_turns must be >= 1"),
        ({"repo_id": "acme"}, "configurable.repo_id must be an integer"),
    ],
)
def test_bad_configurable_options_are_configuration_errors(
    configurable: dict[str, object], match: str
) -> None:
    model = _Looping(messages=iter([]))
    with pytest.raises(ConfigurationError, match=match):
        studio.build_supervisor_graph({"configurable": configurable}, model=model)
