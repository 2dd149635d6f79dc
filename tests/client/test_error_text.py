"""One table words every Codegen error, for the tools and the CLI alike."""

from __future__ import annotations

import pytest

from codegen_graph import _exceptions as errors
from codegen_graph._error_text import ERROR_TEXTS, cli_hint, error_text, tool_message
from codegen_graph._problems import describe_problems, problem_lines
from codegen_graph.cli._common import hint_for
from codegen_graph.tools._errors import describe_error


def _classes(base: type[errors.CodegenError]) -> list[type[errors.CodegenError]]:
    found = [base]
    for sub in base.__subclasses__():
        if sub.__module__ == errors.__name__:
            found.extend(_classes(sub))
    return found


def _instance(cls: type[errors.CodegenError]) -> errors.CodegenError:
    if issubclass(cls, errors.APIStatusError):
        return cls("boom", status_code=400)
    if issubclass(cls, errors.OutputValidationError):
        return cls("boom", run=None, attempts=())
    if cls.__name__ == "_RunError" or issubclass(
        cls, errors.RunTimeoutError | errors.AgentRunFailedError
    ):
        return cls("boom", run=None)  # type: ignore[call-arg]
    return cls("boom")


@pytest.mark.parametrize("cls", _classes(errors.CodegenError), ids=lambda c: c.__name__)
def test_every_error_has_both_texts_from_one_row(cls: type[errors.CodegenError]) -> None:
    exc = _instance(cls)
    row = error_text(exc)
    assert row in [text for _, text in ERROR_TEXTS]
    # the tools and the CLI present that row's texts, nothing of their own
    assert describe_error(exc, "codegen_x", {}) == tool_message(exc, "codegen_x", {})
    assert hint_for(exc) == cli_hint(exc) == row.hint(exc)
    assert "\n" not in cli_hint(exc) and tool_message(exc, "codegen_x", {}).endswith(".")


def test_each_class_is_worded_once() -> None:
    classes = [cls for cls, _ in ERROR_TEXTS]
    assert len(classes) == len(set(classes))
    # the catch-all rows come last, so no row is shadowed by an ancestor before it
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, earlier) for earlier in classes[:i]), cls


def test_problem_lines_read_pydantic_errors_and_422_details_alike() -> None:
    detail = [{"loc": ["body", "prompt"], "msg": "too long"}, "junk", {"loc": []}]
    assert problem_lines(detail, drop=("body",), where="the request") == [
        "prompt: too long",
        "the request: invalid",
    ]
    assert describe_problems(detail, sep=", ", limit=1) == "body.prompt: too long"
