"""merge_messages: add_messages semantics plus a window that never breaks a tool exchange."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages
from typing_extensions import TypedDict

from codegen_graph import ConfigurationError
from codegen_graph.graph import merge_messages, windowed_messages

SUMMARY = "codegen-graph-summary"


def ids(messages: Sequence[BaseMessage]) -> list[str | None]:
    return [m.id for m in messages]


def calls(ai_id: str, *call_ids: str) -> AIMessage:
    return AIMessage(
        "", id=ai_id, tool_calls=[{"name": "t", "args": {}, "id": c} for c in call_ids]
    )


def answer(call_id: str) -> ToolMessage:
    return ToolMessage(f"result {call_id}", tool_call_id=call_id, id=f"t-{call_id}")


def trimmed_info(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    for m in messages:
        if m.id == SUMMARY:
            info: dict[str, Any] = m.additional_kwargs["codegen_graph_summary"]
            return info
    return {"trimmed": 0, "trimmed_ids": []}


def orphans(messages: Sequence[BaseMessage]) -> list[str | None]:
    seen: set[str] = set()
    out = []
    for m in messages:
        if isinstance(m, AIMessage):
            seen.update(c["id"] for c in m.tool_calls if c["id"])
        if isinstance(m, ToolMessage) and m.tool_call_id not in seen:
            out.append(m.id)
    return out


# --- examples ----------------------------------------------------------------------------


def test_without_window_it_is_add_messages_including_coercion_and_removal() -> None:
    left = [HumanMessage("hi", id="1"), AIMessage("hello", id="2")]
    right: list[Any] = [
        ("user", "and?"),
        {"role": "assistant", "content": "more", "id": "3"},
        AIMessage("edited", id="2"),
        RemoveMessage(id="1"),
    ]
    out = merge_messages(left, right)
    assert [type(m).__name__ for m in out] == ["AIMessage", "HumanMessage", "AIMessage"]
    assert out[0].content == "edited"
    assert out[1].id is not None  # assigned, like add_messages does
    assert out[2].id == "3"
    with pytest.raises(ValueError, match="doesn't exist"):
        merge_messages(left, [RemoveMessage(id="nope")])


def test_window_keeps_first_and_latest_with_a_summary() -> None:
    msgs = [HumanMessage(str(i), id=str(i)) for i in range(6)]
    out = merge_messages([], msgs, max_messages=3, keep_first=1)
    assert ids(out) == ["0", SUMMARY, "4", "5"]
    assert out[1].content == "3 earlier messages were trimmed."
    assert isinstance(out[1], AIMessage)
    assert out[1].name == SUMMARY
    assert trimmed_info(out) == {"trimmed": 3, "trimmed_ids": ["1", "2", "3"]}


def test_summary_accumulates_and_summarizer_sees_previous_summary_then_trimmed() -> None:
    seen: list[list[str | None]] = []

    def summarize(prefix: Sequence[BaseMessage]) -> str:
        seen.append(ids(prefix))
        return "about " + ", ".join(str(m.content) for m in prefix if m.id != SUMMARY)

    reducer = windowed_messages(2, keep_first=1, summarizer=summarize)
    state = reducer([], [HumanMessage(str(i), id=str(i)) for i in range(4)])
    assert ids(state) == ["0", SUMMARY, "3"]
    state = reducer(state, [HumanMessage("4", id="4")])
    assert ids(state) == ["0", SUMMARY, "4"]
    assert seen == [["1", "2"], [SUMMARY, "3"]]
    assert state[1].content == "3 earlier messages were trimmed.\n\nabout 3"
    assert trimmed_info(state)["trimmed_ids"] == ["1", "2", "3"]


def test_one_trimmed_message_is_singular() -> None:
    out = merge_messages([], [HumanMessage("a", id="a"), HumanMessage("b", id="b")], max_messages=1)
    assert out[0].content == "1 earlier message was trimmed."


def test_cut_inside_a_tool_exchange_trims_the_whole_exchange() -> None:
    conv = [
        SystemMessage("s", id="s"),
        HumanMessage("h", id="h"),
        calls("a", "c1", "c2"),
        answer("c1"),
        answer("c2"),
        AIMessage("done", id="d"),
    ]
    expected = {
        1: ["s", SUMMARY],
        2: ["s", SUMMARY, "d"],
        4: ["s", SUMMARY, "d"],
        5: ["s", SUMMARY, "a", "t-c1", "t-c2", "d"],
        6: ["s", "h", "a", "t-c1", "t-c2", "d"],
    }
    for max_messages, want in expected.items():
        assert ids(merge_messages([], conv, max_messages=max_messages, keep_first=1)) == want


def test_keep_first_stops_before_a_tool_exchange_it_would_split() -> None:
    conv = [
        SystemMessage("s", id="s"),
        calls("a", "c1"),
        answer("c1"),
        HumanMessage("x", id="x"),
        HumanMessage("y", id="y"),
    ]
    # keep_first=2 would keep the call without its answer: only the system prompt is kept.
    assert ids(merge_messages([], conv, max_messages=3, keep_first=2)) == ["s", SUMMARY, "x", "y"]
    # The tail cannot hold the exchange either (it would need 4 slots): it goes as a whole.
    assert ids(merge_messages([], conv, max_messages=4, keep_first=2)) == ["s", SUMMARY, "x", "y"]
    # Enough room: nothing trimmed, nothing split.
    assert ids(merge_messages([], conv, max_messages=5, keep_first=2)) == ids(conv)


def test_tool_answer_arriving_after_its_call_was_trimmed_is_trimmed_too() -> None:
    reducer = windowed_messages(2)
    state = reducer([], [calls("a", "c1")])
    state = reducer(state, [HumanMessage("1", id="1"), HumanMessage("2", id="2")])
    assert ids(state) == [SUMMARY, "1", "2"]
    state = reducer(state, [answer("c1")])
    assert orphans(state) == []
    assert ids(state) == [SUMMARY, "1", "2"]
    assert trimmed_info(state)["trimmed_ids"] == ["a", "t-c1"]


def test_reapplying_an_update_does_not_bring_trimmed_messages_back() -> None:
    update = [HumanMessage(str(i), id=str(i)) for i in range(5)]
    once = merge_messages([], update, max_messages=2)
    assert merge_messages(once, update, max_messages=2) == once


def test_removing_a_trimmed_message_is_a_no_op_and_remove_all_resets() -> None:
    state = merge_messages([], [HumanMessage(str(i), id=str(i)) for i in range(4)], max_messages=2)
    assert ids(state) == [SUMMARY, "2", "3"]
    assert merge_messages(state, [RemoveMessage(id="0")], max_messages=2) == state
    with pytest.raises(ValueError, match="doesn't exist"):
        merge_messages(state, [RemoveMessage(id="never")], max_messages=2)
    reset = merge_messages(
        state, [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("0", id="0")], max_messages=2
    )
    assert ids(reset) == ["0"]


@pytest.mark.parametrize(
    ("max_messages", "keep_first"), [(0, 0), (-1, 0), (3, -1), (2, 3), (True, 0), (2.5, 0)]
)
def test_bad_window_is_a_configuration_error(max_messages: Any, keep_first: Any) -> None:
    with pytest.raises(ConfigurationError):
        windowed_messages(max_messages, keep_first)
    with pytest.raises(ConfigurationError):
        merge_messages([], [], max_messages=max_messages, keep_first=keep_first)


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], windowed_messages(3, keep_first=1)]


def test_windowed_reducer_in_a_compiled_graph_survives_checkpoints() -> None:
    def reply(state: ChatState) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage(f"reply {n}", id=f"r{n}-{state['messages'][-1].id}")]}

    builder = StateGraph(ChatState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat"}}
    graph.invoke({"messages": [SystemMessage("be brief", id="sys")]}, config)
    for i in range(4):
        out = graph.invoke({"messages": [HumanMessage(f"q{i}", id=f"q{i}")]}, config)
    messages = out["messages"]
    assert messages[0].id == "sys"
    assert messages[1].id == SUMMARY
    assert len(messages) == 4
    assert trimmed_info(messages)["trimmed"] == 7  # sys + 5 replies + 4 questions - 3 kept
    # The checkpointed value is the same (the summary survived serialisation).
    assert graph.get_state(config).values["messages"] == messages


# --- properties --------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> list[list[BaseMessage]]:
    """A list of updates forming a valid conversation, with edits and removals."""
    stream: list[BaseMessage] = []
    plain: list[str] = []  # ids that may be edited or removed (no tool structure)
    removed: set[str] = set()
    n = 0
    for op in draw(st.lists(st.sampled_from(["h", "ai", "tools", "edit", "rm"]), max_size=25)):
        n += 1
        if op == "h":
            stream.append(HumanMessage(f"h{n}", id=f"h{n}"))
            plain.append(f"h{n}")
        elif op == "ai":
            stream.append(AIMessage(f"a{n}", id=f"a{n}"))
            plain.append(f"a{n}")
        elif op == "tools":
            k = draw(st.integers(1, 3))
            call_ids = [f"c{n}.{j}" for j in range(k)]
            stream.append(calls(f"x{n}", *call_ids))
            stream.extend(answer(c) for c in call_ids)
        else:
            alive = [i for i in plain if i not in removed]
            if not alive:
                continue
            target = draw(st.sampled_from(alive))
            if op == "edit":
                cls = HumanMessage if target.startswith("h") else AIMessage
                stream.append(cls(f"edited {n}", id=target))
            else:
                stream.append(RemoveMessage(id=target))
                removed.add(target)
    cuts = sorted(draw(st.sets(st.integers(0, len(stream)), max_size=6)))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


windows = st.integers(1, 8).flatmap(lambda m: st.tuples(st.just(m), st.integers(0, m)))
_settings = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(histories())
def test_property_without_window_equals_add_messages(history: list[list[BaseMessage]]) -> None:
    ours: list[AnyMessage] = []
    theirs: list[Any] = []
    for update in history:
        ours = merge_messages(ours, update)
        theirs = add_messages(theirs, update)  # type: ignore[assignment]
        assert ours == theirs


@_settings
@given(histories(), windows)
def test_property_window_invariants(
    history: list[list[BaseMessage]], window: tuple[int, int]
) -> None:
    max_messages, keep_first = window
    state: list[AnyMessage] = []
    full: list[Any] = []
    for update in history:
        state = merge_messages(state, update, max_messages=max_messages, keep_first=keep_first)
        full = add_messages(full, update)  # type: ignore[assignment]
        kept = [m for m in state if m.id != SUMMARY]
        info = trimmed_info(state)

        assert orphans(state) == []
        assert len(set(ids(state))) == len(state)
        assert len(kept) <= max_messages
        assert len(state) <= max_messages + 1
        assert [m.id for m in state].count(SUMMARY) == (1 if info["trimmed"] else 0)
        # Relative order preserved: what is kept is a subsequence of the full history.
        by_id = {m.id: i for i, m in enumerate(full)}
        positions = [by_id[m.id] for m in kept]
        assert positions == sorted(positions)
        assert all(m == full[by_id[m.id]] for m in kept)
        # Nothing vanishes silently: whatever is gone is accounted for by the summary.
        assert {m.id for m in full} - {m.id for m in kept} <= set(info["trimmed_ids"])
        # An AI tool call is never separated from its answers.
        kept_ids = {m.id for m in kept}
        for m in kept:
            if isinstance(m, AIMessage) and m.tool_calls:
                answers = {f"t-{c['id']}" for c in m.tool_calls}
                assert answers & {x.id for x in full} <= kept_ids
        # Idempotent on re-application (removal is not idempotent in add_messages either).
        if not any(isinstance(m, RemoveMessage) for m in update):
            again = merge_messages(state, update, max_messages=max_messages, keep_first=keep_first)
            assert again == state


@_settings
@given(histories(), windows)
def test_property_first_messages_are_kept_in_plain_chats(
    history: list[list[BaseMessage]], window: tuple[int, int]
) -> None:
    flat = [m for update in history for m in update]
    if any(isinstance(m, RemoveMessage | ToolMessage) for m in flat):
        return
    max_messages, keep_first = window
    state: list[AnyMessage] = []
    full: list[Any] = []
    for update in history:
        state = merge_messages(state, update, max_messages=max_messages, keep_first=keep_first)
        full = add_messages(full, update)  # type: ignore[assignment]
        assert state[: min(keep_first, len(full))] == full[:keep_first]
        tail = max_messages - min(keep_first, len(full))
        if tail and len(full) > keep_first:
            assert state[-1] == full[-1]
