"""A scripted tool-calling chat model for graph tests (replays AIMessages, some built from
the conversation so far, the way a real model uses a run id it was given)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

Step = AIMessage | Callable[[list[BaseMessage]], AIMessage]

_ids = itertools.count(1)


def tool_call(name: str, **args: Any) -> ToolCall:
    return ToolCall(name=name, args=args, id=f"call_{next(_ids)}", type="tool_call")


def calls(*tool_calls: ToolCall) -> AIMessage:
    """One AIMessage asking for all ``tool_calls`` (they run in parallel)."""
    return AIMessage(content="", tool_calls=list(tool_calls))


def tool_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


class ScriptedSupervisor(GenericFakeChatModel):
    """``bind_tools`` returns itself; reply ``i`` is ``steps[i]`` (or ``steps[i](messages)``).

    ``transcripts`` keeps what the model was shown at each turn, and ``bound`` the names of
    the tools it was bound to.
    """

    steps: list[Any] = Field(default_factory=list)
    transcripts: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[str] = Field(default_factory=list)
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    # GenericFakeChatModel streams word by word and drops tool calls; answer whole.
    disable_streaming: bool | Literal["tool_calling"] = True

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        self.bound = [t.name for t in tools]
        return self  # type: ignore[return-value]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.transcripts.append(list(messages))
        step = self.steps[min(len(self.transcripts), len(self.steps)) - 1]
        self.messages = iter([step(list(messages)) if callable(step) else step])
        return super()._generate(messages, stop, run_manager, **kwargs)
