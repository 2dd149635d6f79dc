"""``CodegenTool``: what every Codegen tool shares (clients, errors, sync/async, output)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from functools import partial
from typing import Any, ClassVar, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from langchain_core.tools.base import ToolExceptionHandlerOutput
from pydantic import BaseModel, Field, ValidationError

from .. import AsyncCodegenClient, CodegenClient
from .._exceptions import CodegenError, ConfigurationError
from .._problems import describe_problems
from ._async.work import async_emitter
from ._bridge import in_thread, on_portal
from ._errors import wrap_error
from ._keys import reset_tool_call_id, with_tool_call_id
from ._sync.work import emitter

__all__ = ["DEFAULT_TIMEOUT", "CodegenTool"]

#: Seconds a waiting tool waits for a run when the call gives no ``timeout``.
DEFAULT_TIMEOUT = 1800.0


def describe_validation_error(exc: Exception) -> str:
    """The ``handle_validation_error`` of the tools: which argument is wrong and why."""
    # pydantic.v1 errors (only from v1 schemas) have no shared shape: their text then
    problems = describe_problems(exc) if isinstance(exc, ValidationError) else str(exc)
    return f"Invalid arguments: {problems}. Fix them and call the tool again."


class CodegenTool(BaseTool):
    """Base class of the Codegen tools.

    A tool needs a client for the mode it is called in, but one is enough:

    * ``client`` only: ``invoke``/``run`` use it directly; ``ainvoke``/``arun`` run the
      sync work in a worker thread.
    * ``async_client`` only: ``ainvoke`` uses it directly; ``invoke`` runs the coroutine
      on an event loop in a daemon thread (one anyio blocking portal per process), so don't
      use that same async client from another event loop at the same time.

    Output is ``(content, artifact)`` (``response_format="content_and_artifact"``): invoked
    with a tool call, the tool returns a ``ToolMessage`` whose content is short text for
    the model and whose ``artifact`` is the full wire model. A Codegen API error is raised
    as :class:`~codegen_graph.tools.CodegenToolError` (a ``ToolException``) and, with the
    default ``handle_tool_error=True``, returned as a ``ToolMessage(status="error")``
    carrying an actionable sentence. Bad arguments from the model are answered the same
    way (``handle_validation_error``). Other exceptions are bugs and propagate.

    Attributes:
        client: the sync client (not serialised, not in the repr).
        async_client: the async client (not serialised, not in the repr).
        default_timeout: seconds a waiting call waits when the model gives no ``timeout``.
        max_result_chars: longer run results are cut in the content (the artifact keeps
            them whole), and the content says so.
    """

    client: CodegenClient | None = Field(default=None, exclude=True, repr=False)
    async_client: AsyncCodegenClient | None = Field(default=None, exclude=True, repr=False)
    default_timeout: float | None = Field(default=DEFAULT_TIMEOUT, gt=0)
    max_result_chars: int = Field(default=2000, ge=100)
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], ToolExceptionHandlerOutput] | None = (
        True
    )
    handle_validation_error: bool | str | Callable[[Any], str] | None = describe_validation_error

    def __init__(
        self,
        *,
        client: CodegenClient | None = None,
        async_client: AsyncCodegenClient | None = None,
        **kwargs: Any,
    ) -> None:
        if client is None and async_client is None:
            raise ConfigurationError(
                f"{type(self).__name__} needs a client: pass client=CodegenClient(...) "
                "and/or async_client=AsyncCodegenClient(...)"
            )
        if client is not None and not isinstance(client, CodegenClient):
            raise ConfigurationError(
                f"client must be a CodegenClient, got {type(client).__name__}"
                + (
                    " (pass it as async_client=...)"
                    if isinstance(client, AsyncCodegenClient)
                    else ""
                )
            )
        if async_client is not None and not isinstance(async_client, AsyncCodegenClient):
            raise ConfigurationError(
                f"async_client must be an AsyncCodegenClient, got {type(async_client).__name__}"
            )
        super().__init__(client=client, async_client=async_client, **kwargs)

    # -- what each tool defines --------------------------------------------------------
    #: The tool's work, written once in ``tools/_async/work.py`` (``tools/_sync/work.py`` is
    #: generated): ``work(tool, client, params, on_log)`` returns the artifact.
    _work: ClassVar[Callable[..., BaseModel]]
    _awork: ClassVar[Callable[..., Awaitable[BaseModel]]]

    def _content(self, artifact: Any, params: Any) -> str:
        """The text the model reads for ``artifact``."""
        raise NotImplementedError

    def _event_fields(self, params: Any) -> dict[str, Any]:
        """Fields of the tool's log events in LangGraph's custom stream (besides the entry)."""
        return {"tool": self.name}

    # -- shared machinery --------------------------------------------------------------
    # run()/arun() know the tool call id; remember it for _params (the same context), where
    # the run and resume tools derive their idempotency key from it.
    def run(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        token = with_tool_call_id(kwargs.get("tool_call_id"))
        try:
            return super().run(tool_input, *args, **kwargs)
        finally:
            reset_tool_call_id(token)

    async def arun(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        token = with_tool_call_id(kwargs.get("tool_call_id"))
        try:
            return await super().arun(tool_input, *args, **kwargs)
        finally:
            reset_tool_call_id(token)

    def _params(self, kwargs: Mapping[str, Any]) -> BaseModel:
        # BaseTool passes only the arguments the caller gave; validate again for defaults.
        return cast(type[BaseModel], self.args_schema).model_validate(dict(kwargs))

    @contextlib.contextmanager
    def _errors(self, kwargs: Mapping[str, Any]) -> Iterator[None]:
        try:
            yield
        except CodegenError as exc:
            raise wrap_error(exc, self.name, kwargs) from exc

    def _run(
        self, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> tuple[str, BaseModel]:
        params = self._params(kwargs)
        emit, tool = emitter(run_manager, self._event_fields(params)), type(self)
        with self._errors(kwargs):
            if self.client is not None:
                artifact = tool._work(self, self.client, params, emit)
            else:  # the async work, on the tools' portal
                artifact = on_portal(partial(tool._awork, self, self.async_client, params), emit)
        return self._content(artifact, params), artifact

    async def _arun(
        self, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> tuple[str, BaseModel]:
        params = self._params(kwargs)
        emit, tool = async_emitter(run_manager, self._event_fields(params)), type(self)
        with self._errors(kwargs):
            if self.async_client is not None:
                artifact = await tool._awork(self, self.async_client, params, emit)
            else:  # the sync work, in a worker thread
                artifact = await in_thread(partial(tool._work, self, self.client, params), emit)
        return self._content(artifact, params), artifact
