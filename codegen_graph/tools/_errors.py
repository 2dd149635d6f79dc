"""Codegen errors as messages a model can act on.

A tool call that fails because of the Codegen API (a 429, a used-up quota, an unknown run
id, a run that is still going...) must not crash the agent loop: the model should read what
happened and decide what to do next. The idiomatic LangChain mechanism is
:class:`~langchain_core.tools.ToolException` plus ``BaseTool.handle_tool_error``: the tools
turn every :class:`~codegen_graph.CodegenError` into a :class:`CodegenToolError` whose
message is one actionable paragraph, and ``handle_tool_error=True`` (their default) makes
``BaseTool.run`` return it as a ``ToolMessage(status="error")``.

Anything else (``TypeError``, ``KeyError``, ...) is a programming error and still raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.tools import ToolException

from .._error_text import tool_message
from .._exceptions import CodegenError

__all__ = ["CodegenToolError", "describe_error", "wrap_error"]


class CodegenToolError(ToolException):
    """A Codegen API error, reworded for a model (``str(self)``).

    Attributes:
        error: the original :class:`~codegen_graph.CodegenError` (also ``__cause__``).
    """

    def __init__(self, message: str, *, error: CodegenError) -> None:
        super().__init__(message)
        self.error = error


def describe_error(exc: CodegenError, tool_name: str, args: Mapping[str, Any]) -> str:
    """One actionable message for ``exc``, raised by ``tool_name`` called with ``args``.

    The wording is :data:`codegen_graph._error_text.ERROR_TEXTS`' (shared with the CLI).
    """
    return tool_message(exc, tool_name, args)


def wrap_error(exc: CodegenError, tool_name: str, args: Mapping[str, Any]) -> CodegenToolError:
    """The :class:`CodegenToolError` to raise from a tool for ``exc``."""
    return CodegenToolError(describe_error(exc, tool_name, args), error=exc)
