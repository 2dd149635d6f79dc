"""A scripted tool-calling chat model: replays AIMessages, some built from the conversation."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

Step = AIMessage | Callable[[list[BaseMessage]], AIMessage]

_ids = itertools.count(1)


def call(name: str, **args: Any) -> AIMessage:
    """An AIMessage asking for one tool call."""
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": f"call_{next(_ids)}"}]
    )


def last_tool_message(messages: Sequence[BaseMessage]) -> ToolMessage:
    found = [m for m in messages if isinstance(m, ToolMessage)]
    assert found, "the model expected a tool result"
    return found[-1]


class ScriptedToolModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` whose ``bind_tools`` returns itself and whose replies come
    from ``steps``: an ``AIMessage``, or a function of the conversation so far (how a
    scripted model uses a run id it received). ``transcripts`` keeps what it was shown.
    """

    steps: list[Any] = Field(default_factory=list)
    transcripts: list[list[BaseMessage]] = Field(default_factory=list)
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    # GenericFakeChatModel streams content word by word and drops tool calls; answer whole.
    disable_streaming: bool | Literal["tool_calling"] = True

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # type: ignore[return-value]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.transcripts.append(list(messages))
        step = self.steps[len(self.transcripts) - 1]
        self.messages = iter([step(list(messages)) if callable(step) else step])
        return super()._generate(messages, stop, run_manager, **kwargs)
