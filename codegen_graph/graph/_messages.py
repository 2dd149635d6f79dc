"""The message reducer: ``add_messages`` plus a window that never breaks a tool exchange.

:func:`merge_messages` first delegates to LangGraph's own
:func:`~langgraph.graph.message.add_messages` (replace by id, ``RemoveMessage``,
``REMOVE_ALL_MESSAGES``, id assignment, coercion of dicts, tuples and strings), so without a
window it *is* ``add_messages``. With ``max_messages`` set it then keeps a bounded window:

* the first ``keep_first`` messages (typically the system prompt and the task), fixed
  once trimming has started;
* the most recent messages, as many as fit in ``max_messages`` together with the first ones;
* one summary message (id :data:`SUMMARY_MESSAGE_ID`) right after the first ones, standing
  in for everything trimmed so far.

An ``AIMessage`` carrying tool calls and the ``ToolMessage`` answers to those calls form one
unit: the window keeps all of it or none of it, so a provider never sees a tool answer
without its call or a call whose answer was cut away. When the cut would fall inside such a
unit, the whole unit is trimmed (the bound is hard). A ``ToolMessage`` whose call is not in
the kept messages (an orphan, e.g. an answer arriving after its call was trimmed) is trimmed
too.

The summary remembers the ids it stands in for, so re-applying an update whose messages were
already trimmed changes nothing, and a ``RemoveMessage`` for a trimmed id is a no-op instead
of the ``ValueError`` ``add_messages`` raises for an unknown id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    BaseMessageChunk,
    RemoveMessage,
    ToolMessage,
    convert_to_messages,
    message_chunk_to_message,
)
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages

from .._exceptions import ConfigurationError

__all__ = ["SUMMARY_MESSAGE_ID", "Summarizer", "merge_messages", "windowed_messages"]

#: The id (and ``name``) of the summary message that stands in for trimmed messages.
SUMMARY_MESSAGE_ID = "codegen-graph-summary"
#: The ``additional_kwargs`` key holding the summary's bookkeeping.
_SUMMARY_KEY = "codegen_graph_summary"

#: Turns the messages a summary stands in for into text. It receives the previous summary
#: message (if any) followed by the messages trimmed now, and must be deterministic.
Summarizer = Callable[[Sequence[BaseMessage]], str]

#: A message, a list of messages, or anything ``add_messages`` coerces (dicts, tuples...).
MessagesUpdate = Any


def merge_messages(
    left: MessagesUpdate,
    right: MessagesUpdate,
    *,
    max_messages: int | None = None,
    keep_first: int = 0,
    summarize: Summarizer | None = None,
) -> list[AnyMessage]:
    """Merge ``right`` into ``left`` like ``add_messages``, then apply an optional window.

    Args:
        left: the current messages (the channel's value).
        right: the update: a message, a list of messages, or anything ``add_messages``
            coerces (dicts, ``(role, content)`` tuples, strings).
        max_messages: keep at most this many messages (plus the summary). ``None``: no
            window, the result is exactly ``add_messages(left, right)``.
        keep_first: always keep this many leading messages (fewer when a tool exchange
            starts among them and ends after them: the kept ones then end before its call).
        summarize: optional callable whose text is appended to the summary.

    Returns:
        The merged list. Like ``add_messages``, messages without an id get a random one
        (assigned in place); everything else is deterministic.

    Raises:
        ConfigurationError: ``max_messages`` < 1, ``keep_first`` < 0 or > ``max_messages``.
        ValueError: from ``add_messages``, e.g. removing an id that never existed.

    Examples:
        >>> from langchain_core.messages import HumanMessage
        >>> msgs = [HumanMessage(str(i), id=str(i)) for i in range(5)]
        >>> out = merge_messages([], msgs, max_messages=3, keep_first=1)
        >>> [m.id for m in out]
        ['0', 'codegen-graph-summary', '3', '4']
        >>> out[1].content
        '2 earlier messages were trimmed.'
    """
    if max_messages is None:
        return cast("list[AnyMessage]", _add(left, right))
    _check_window(max_messages, keep_first)

    left_list = left if isinstance(left, list) else [left]
    right_list = _coerce(right if isinstance(right, list) else [right])
    previous = _find_summary(left_list)
    if previous is not None and not _resets(right_list):
        already = set(_summary_info(previous)[1])
        right_list = [m for m in right_list if m.id not in already]
    merged = _add(left_list, right_list)
    return _window(merged, max_messages, keep_first, summarize)


def windowed_messages(
    max_messages: int, keep_first: int = 0, summarizer: Summarizer | None = None
) -> Callable[[MessagesUpdate, MessagesUpdate], list[AnyMessage]]:
    """A reducer for ``Annotated[list[AnyMessage], ...]`` with a fixed window.

    Args:
        max_messages: keep at most this many messages (plus one summary message).
        keep_first: always keep this many leading messages.
        summarizer: optional deterministic callable whose text goes into the summary.

    Raises:
        ConfigurationError: invalid window sizes (checked now, not at the first update).

    Examples:
        >>> from typing import Annotated
        >>> from typing_extensions import TypedDict
        >>> class ChatState(TypedDict):
        ...     messages: Annotated[list[AnyMessage], windowed_messages(40, keep_first=2)]
    """
    _check_window(max_messages, keep_first)

    def reducer(left: MessagesUpdate, right: MessagesUpdate) -> list[AnyMessage]:
        return merge_messages(
            left, right, max_messages=max_messages, keep_first=keep_first, summarize=summarizer
        )

    reducer.__name__ = f"windowed_messages_{max_messages}_{keep_first}"
    reducer.__doc__ = (
        f"merge_messages with max_messages={max_messages}, keep_first={keep_first}"
        f"{', with a summarizer' if summarizer else ''}."
    )
    return reducer


def _add(left: Any, right: Any) -> list[BaseMessage]:
    # add_messages is typed loosely (it accepts and returns "Messages"); it returns a list.
    return cast("list[BaseMessage]", add_messages(left, right))


def _check_window(max_messages: int, keep_first: int) -> None:
    if isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1:
        raise ConfigurationError(
            f"max_messages must be a positive int (or None for no window), got {max_messages!r}"
        )
    if isinstance(keep_first, bool) or not isinstance(keep_first, int) or keep_first < 0:
        raise ConfigurationError(f"keep_first must be an int >= 0, got {keep_first!r}")
    if keep_first > max_messages:
        raise ConfigurationError(
            f"keep_first ({keep_first}) cannot exceed max_messages ({max_messages}); "
            "raise max_messages or keep fewer leading messages"
        )


def _coerce(messages: list[Any]) -> list[BaseMessage]:
    # The same coercion add_messages applies, done first so trimmed ids can be filtered.
    if all(isinstance(m, BaseMessage) and not isinstance(m, BaseMessageChunk) for m in messages):
        return messages
    return [message_chunk_to_message(m) for m in convert_to_messages(messages)]


def _resets(messages: Sequence[BaseMessage]) -> bool:
    return any(isinstance(m, RemoveMessage) and m.id == REMOVE_ALL_MESSAGES for m in messages)


def _find_summary(messages: Sequence[Any]) -> BaseMessage | None:
    for m in messages:
        if isinstance(m, BaseMessage) and m.id == SUMMARY_MESSAGE_ID:
            return m
    return None


def _summary_info(summary: BaseMessage) -> tuple[int, list[str]]:
    info = summary.additional_kwargs.get(_SUMMARY_KEY)
    if not isinstance(info, dict):
        return 0, []
    count = info.get("trimmed")
    ids = info.get("trimmed_ids")
    return (
        count if isinstance(count, int) else 0,
        [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else [],
    )


def _call_ids(message: BaseMessage) -> list[str]:
    if not isinstance(message, AIMessage):
        return []
    calls = [c.get("id") for c in message.tool_calls]
    calls += [c.get("id") for c in message.invalid_tool_calls]
    return [c for c in calls if c]


def _tool_units(messages: Sequence[BaseMessage]) -> tuple[set[int], list[tuple[int, int]]]:
    """Orphan ToolMessage indices, and (ai_index, last_answer_index) spans of tool exchanges."""
    caller: dict[str, int] = {}
    last: dict[int, int] = {}
    orphans: set[int] = set()
    for i, m in enumerate(messages):
        for call_id in _call_ids(m):
            caller[call_id] = i
        if isinstance(m, ToolMessage):
            ai = caller.get(m.tool_call_id)
            if ai is None:
                orphans.add(i)
            else:
                last[ai] = i
    return orphans, sorted(last.items())


def _straddling(spans: list[tuple[int, int]], cut: int) -> tuple[int, int] | None:
    for start, end in spans:
        if start < cut <= end:
            return start, end
    return None


def _head_end(spans: list[tuple[int, int]], k: int) -> int:
    """Move the end of the kept leading messages back before a tool exchange it would split."""
    while (unit := _straddling(spans, k)) is not None:
        k = unit[0]
    return k


def _window(
    merged: list[BaseMessage],
    max_messages: int,
    keep_first: int,
    summarize: Summarizer | None,
) -> list[AnyMessage]:
    previous = _find_summary(merged)
    body = [m for m in merged if m.id != SUMMARY_MESSAGE_ID]
    orphans, _ = _tool_units(body)
    kept = [i for i in range(len(body)) if i not in orphans]
    # Tool exchanges of the orphan-free list, in its own indices.
    _, spans = _tool_units([body[i] for i in kept])
    n = len(kept)
    head = min(keep_first, n)
    if previous is not None:
        # Once trimming started, the leading messages are the ones before the summary: the
        # first messages of the conversation, not whatever comes first after a trim.
        at = next(i for i, m in enumerate(merged) if m.id == SUMMARY_MESSAGE_ID)
        before = sum(1 for m in merged[:at] if m.id != SUMMARY_MESSAGE_ID)
        head = min(head, sum(1 for i in kept if i < before))
    k = _head_end(spans, head)
    c = max(k, n - (max_messages - k))
    while (unit := _straddling(spans, c)) is not None:
        c = unit[1] + 1
    trimmed = [body[i] for i in sorted(orphans.union(kept[k:c]))]
    if not trimmed:
        summary = [previous] if previous is not None else []
    else:
        summary = [_summary(previous, trimmed, summarize)]
    result = [body[i] for i in kept[:k]] + summary + [body[i] for i in kept[c:]]
    return cast("list[AnyMessage]", result)


def _summary(
    previous: BaseMessage | None,
    trimmed: list[BaseMessage],
    summarize: Summarizer | None,
) -> AIMessage:
    count, ids = _summary_info(previous) if previous is not None else (0, [])
    count += len(trimmed)
    ids = ids + [m.id for m in trimmed if m.id is not None]
    noun = "message was" if count == 1 else "messages were"
    text = f"{count} earlier {noun} trimmed."
    if summarize is not None:
        extra = summarize([previous, *trimmed] if previous is not None else trimmed)
        if extra:
            text = f"{text}\n\n{extra}"
    return AIMessage(
        content=text,
        id=SUMMARY_MESSAGE_ID,
        name=SUMMARY_MESSAGE_ID,
        additional_kwargs={_SUMMARY_KEY: {"trimmed": count, "trimmed_ids": ids}},
    )
