"""Typed agent results: a Pydantic schema in the prompt, a validated object out of the run.

Codegen's API returns the agent's final answer as text. With ``output_schema=`` a
:class:`pydantic.BaseModel` subclass, codegen-graph

1. appends an instruction to the prompt: end the final answer with one JSON object that
   validates against the model's JSON Schema, in a fenced ``json`` block (the schema itself
   is sent in a ``json-schema`` fence, :data:`SCHEMA_FENCE`);
2. parses the finished run's ``result``: the last fenced ``json`` block that holds an
   object, else the last JSON object anywhere in the text, validated with the model;
3. when that fails, **resumes the same run** with the validation errors and the schema
   (a *repair*), waits again and re-checks, at most ``max_attempts`` answers in all; when
   none validates, :class:`~codegen_graph.OutputValidationError` carries every attempt.

Every repair prompt begins with :data:`REPAIR_MARKER` and its number. A resume shows in the
run's log as a ``USER_MESSAGE`` entry, so the number of repairs a run already received is
read back from its log (:func:`count_repairs`): a wait re-executed after a crash neither
sends a repair twice nor exceeds ``max_attempts``. A run that is going again when it is
re-attached (the repair landed, the answer has not) is only waited for.

Only a run that ended ``COMPLETE`` is parsed; a failed run has no output and is not
repaired. The decisions are here, without I/O; the repair loop is written once
(``_async/output.py``) for the handles and the graph nodes. This module uses pydantic and the
standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._exceptions import ConfigurationError, OutputValidationError
from ._problems import problem_lines
from .models import AgentRunLogResponse, AgentRunResponse

__all__ = [
    "DEFAULT_OUTPUT_ATTEMPTS",
    "REPAIR_MARKER",
    "SCHEMA_FENCE",
    "OutputAttempt",
    "OutputSpec",
    "answers_used",
    "count_repairs",
    "exhausted",
    "extract_json",
]

T = TypeVar("T", bound=BaseModel)

#: Answers a run may give in all (the first one plus the repairs) before giving up.
DEFAULT_OUTPUT_ATTEMPTS = 3
#: The info string of the fence that carries the JSON Schema in a prompt. The local backend
#: looks for the same fence (it does not import this module: it shares only wire models).
SCHEMA_FENCE = "json-schema"
#: The first words of every repair prompt; how a repair is recognised in the run's log.
REPAIR_MARKER = "[codegen-graph output repair"

_FENCED = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.S | re.I)
_MAX_ERRORS = 20


@dataclass(frozen=True)
class OutputAttempt:
    """One answer of a run checked against the schema (kept on the error and the handle).

    Attributes:
        number: 1 for the run's first answer, 2 after the first repair, and so on.
        run_id: the agent run.
        status: the run's status when the answer was read.
        result: the answer text that was parsed.
        errors: why it did not validate (``field: message`` lines, never the input values).
    """

    number: int
    run_id: int
    status: str | None
    result: str | None
    errors: tuple[str, ...]

    @property
    def fields(self) -> tuple[int, str | None, str | None, tuple[str, ...]]:
        """Everything but the number (to renumber an attempt)."""
        return self.run_id, self.status, self.result, self.errors


def extract_json(text: str | None) -> Any:
    """The JSON object an answer ends with: the last fenced block holding an object, else
    the last top-level ``{...}`` of the text that parses. ``None`` when there is none."""
    if not text:
        return None
    for block in reversed(_FENCED.findall(text)):
        try:
            value = json.loads(block)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    decoder, found, index = json.JSONDecoder(), None, text.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            found = value
        index = text.find("{", end)
    return found


def _error_lines(exc: ValidationError) -> tuple[str, ...]:
    return tuple(problem_lines(exc, where="(root)", limit=_MAX_ERRORS))


class OutputSpec(Generic[T]):
    """A schema the run's final answer must satisfy, and how many answers it may take.

    Args:
        schema: a :class:`pydantic.BaseModel` subclass.
        max_attempts: answers in all, the first one included (>= 1); ``1`` never repairs.

    Raises:
        ConfigurationError: ``schema`` is not a model class, or ``max_attempts`` < 1.
    """

    def __init__(self, schema: type[T], *, max_attempts: int = DEFAULT_OUTPUT_ATTEMPTS) -> None:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise ConfigurationError(
                f"output_schema must be a pydantic BaseModel subclass, got {schema!r}"
            )
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigurationError(f"output attempts must be an int >= 1, got {max_attempts!r}")
        self.schema = schema
        self.max_attempts = max_attempts
        self.schema_json = json.dumps(schema.model_json_schema(), sort_keys=True)

    def __repr__(self) -> str:
        return f"OutputSpec({self.schema.__name__}, max_attempts={self.max_attempts})"

    def _schema_block(self) -> str:
        return f"```{SCHEMA_FENCE}\n{self.schema_json}\n```"

    def with_instructions(self, prompt: str) -> str:
        """The prompt, followed by the instruction to end with a JSON object of the schema."""
        return (
            f"{prompt.rstrip()}\n\n---\nWhen you are done, end your final answer with one JSON "
            f"object that validates against this JSON Schema ({self.schema.__name__}), in a "
            f"fenced ```json block, with nothing after it:\n{self._schema_block()}\n"
        )

    def repair_prompt(self, number: int, errors: Iterable[str]) -> str:
        """The resume prompt asking for answer ``number`` after an invalid one."""
        listed = "\n".join(f"- {line}" for line in errors)
        return (
            f"{REPAIR_MARKER} {number} of {self.max_attempts}]\n"
            f"The JSON object at the end of your final answer does not validate against the "
            f"{self.schema.__name__} schema:\n{listed}\n\nDo not change the code again. Reply "
            f"with the corrected JSON object only, in a fenced ```json block, validating "
            f"against this JSON Schema:\n{self._schema_block()}\n"
        )

    def parse(self, text: str | None) -> tuple[T | None, tuple[str, ...]]:
        """Parse and validate an answer: ``(object, ())`` or ``(None, errors)``."""
        value = extract_json(text)
        if value is None:
            return None, ("(answer): no JSON object found in the final answer",)
        try:
            return self.schema.model_validate(value), ()
        except ValidationError as exc:
            return None, _error_lines(exc)

    def check(self, run: AgentRunResponse, number: int) -> tuple[T | None, OutputAttempt]:
        """Parse a finished run's result; the attempt records what was read."""
        output, errors = self.parse(run.result)
        status = run.status.canonical if run.status is not None else None
        return output, OutputAttempt(number, run.id, status, run.result, errors)


def answers_used(attempts: Iterable[OutputAttempt]) -> int:
    """The number of the answer that validated, after ``attempts`` (the invalid ones seen)."""
    return max((a.number for a in attempts), default=0) + 1


def is_repair_entry(entry: AgentRunLogResponse) -> bool:
    """Whether a log entry is a repair prompt this module sent (a ``USER_MESSAGE``)."""
    texts = (entry.thought, entry.observation if isinstance(entry.observation, str) else None)
    return any(isinstance(t, str) and t.startswith(REPAIR_MARKER) for t in texts)


def count_repairs(entries: Iterable[AgentRunLogResponse]) -> int:
    """How many repair prompts a run's log shows (each resume appends a ``USER_MESSAGE``)."""
    return sum(1 for entry in entries if is_repair_entry(entry))


def exhausted(
    spec: OutputSpec[Any], run: AgentRunResponse, attempts: list[OutputAttempt]
) -> OutputValidationError:
    last = attempts[-1]
    shown = "; ".join(last.errors[:3])
    return OutputValidationError(
        f"agent run {run.id} gave {last.number} answer(s), none valid for "
        f"{spec.schema.__name__} (last: {shown}); the run is not resumed again - read "
        f".attempts, or resume it yourself",
        run=run,
        attempts=tuple(attempts),
    )
