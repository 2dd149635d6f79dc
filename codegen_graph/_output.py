"""Typed agent results: a Pydantic schema in the prompt, a validated object out of the run.

Codegen's API returns the agent's final answer as text. With ``output_schema=`` a
:class:`pydantic.BaseModel` subclass, codegen-graph

1. appends an instruction to the prompt: end the final answer with one JSON object that
   validates against the model's JSON Schema, in a fenced ``json`` block (the schema itself
   is sent in a ``json-schema`` fence, :data:`SCHEMA_FENCE`);
2. parses the finished run's ``result``: the last fenced ``json`` block that holds an
   object, else the last JSON object anywhere in the text, validated with the model. The
   scan is linear; an answer over :data:`MAX_ANSWER_CHARS` or nested deeper than
   :data:`MAX_DEPTH` is invalid, with that reason. The async waits parse a long answer in
   slices, letting the event loop run between them (:meth:`OutputSpec.check_steps`);
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
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._concurrency import drain
from ._exceptions import ConfigurationError, OutputValidationError
from ._problems import problem_lines
from .models import AgentRunLogResponse, AgentRunResponse

__all__ = [
    "DEFAULT_OUTPUT_ATTEMPTS",
    "MAX_ANSWER_CHARS",
    "MAX_DEPTH",
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
R = TypeVar("R")

#: Answers a run may give in all (the first one plus the repairs) before giving up.
DEFAULT_OUTPUT_ATTEMPTS = 3
#: The info string of the fence that carries the JSON Schema in a prompt. The local backend
#: looks for the same fence (it does not import this module: it shares only wire models).
SCHEMA_FENCE = "json-schema"
#: The first words of every repair prompt; how a repair is recognised in the run's log.
REPAIR_MARKER = "[codegen-graph output repair"

_FENCED = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.S | re.I)
_BRACE = re.compile(r"\{")
_TOKEN = re.compile(r'[{}\[\]]|"[^"\\\n]*(?:\\.[^"\\\n]*)*"?')  # a string ends at " or \n
_OBJECT_START = re.compile(r'\{\s*["}]')
_OPENER = {"}": "{", "]": "["}
#: Answers longer than this are invalid (not parsed). The async waits parse answers longer
#: than _LONG in slices of _SLICE tokens, letting the event loop run between them.
MAX_ANSWER_CHARS = 1_000_000
_LONG, _SLICE = 50_000, 2048
#: Braces and brackets nest at most this deep in a parsed answer.
MAX_DEPTH = 100
_MAX_STACK = 10_000  # open brackets kept while scanning (bounds its memory)
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
    the last top-level ``{...}`` of the text that parses. ``None`` when there is none.

    Linear: one scan finds the balanced ``{...}`` and their depth; only those that start like
    an object are decoded, none nested deeper than :data:`MAX_DEPTH` (nor what it holds).

    Raises:
        ValueError: the text is longer than :data:`MAX_ANSWER_CHARS`, or no object parsed
            and one was too deep (the message says which).
    """
    return drain(_extract(text))


def _extract(text: str | None) -> Generator[None, None, Any]:
    """:func:`extract_json` in steps: it pauses (yields) after every slice of work."""
    if not text:
        return None
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError(
            f"the answer has {len(text):,} characters; answers over {MAX_ANSWER_CHARS:,} "
            "are not parsed"
        )
    starts, stops, depths = yield from _spans(text)
    index = {start: i for i, start in enumerate(starts)}
    deep = False
    for fence in reversed(list(_FENCED.finditer(text))):
        block = fence.group(1)
        i = index.get(fence.start(1) + len(block) - len(block.lstrip()), -1)
        if i >= 0 and stops[i] == fence.start(1) + len(block.rstrip()):  # one {...}
            deep |= depths[i] > MAX_DEPTH
            if depths[i] <= MAX_DEPTH and isinstance(
                value := _loads(text[starts[i] : stops[i]]), dict
            ):
                return value
    found, end = None, 0
    for i, start in enumerate(starts):
        if i % _SLICE == _SLICE - 1 or stops[i] - start > _LONG:
            yield
        if start >= end and stops[i] > 0 and _OBJECT_START.match(text, start):
            if depths[i] > MAX_DEPTH:
                deep, end = True, stops[i]  # skipped, with what it holds
            elif (value := _loads(text[start : stops[i]])) is not None:
                found, end = value, stops[i]
    if found is None and deep:
        raise ValueError(f"the JSON nests deeper than {MAX_DEPTH} levels")
    return found


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _spans(text: str) -> Generator[None, None, tuple[list[int], list[int], list[int]]]:
    """Every bracket opened in ``text`` from the first ``{`` on, in order: its start, end
    (-1: never closed) and the levels nested in it; JSON strings are skipped. One pass that
    keeps only ints: no garbage collector work, however long the text."""
    starts: list[int] = []
    stops: list[int] = []
    depths: list[int] = []
    stack: list[int] = []  # the brackets open now
    pos = tokens = 0
    while found := (_TOKEN if stack else _BRACE).search(text, pos):
        at, pos, char = found.start(), found.end(), found.group()
        tokens += 1
        if tokens % _SLICE == 0:
            yield
        if char in "{[":
            if len(stack) >= _MAX_STACK:  # the bottom ones are far too deep to decode
                del stack[: _MAX_STACK // 2]
            stack.append(len(starts))
            starts.append(at)
            stops.append(-1)
            depths.append(1)
        elif char in _OPENER and any(text[starts[i]] == _OPENER[char] for i in stack[-3:]):
            while True:  # pop to the matching opener; stray ones in code stay unclosed
                i = stack.pop()
                if stack:
                    depths[stack[-1]] = max(depths[stack[-1]], depths[i] + 1)
                if text[starts[i]] == _OPENER[char]:
                    stops[i] = pos
                    break
    return starts, stops, depths


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
        return drain(self._parse(text))

    def _parse(self, text: str | None) -> Generator[None, None, tuple[T | None, tuple[str, ...]]]:
        try:
            value = yield from _extract(text)
        except ValueError as exc:
            return None, (f"(answer): {exc}",)
        if value is None:
            return None, ("(answer): no JSON object found in the final answer",)
        try:
            return self.schema.model_validate(value), ()
        except ValidationError as exc:
            return None, _error_lines(exc)

    def check(self, run: AgentRunResponse, number: int) -> tuple[T | None, OutputAttempt]:
        """Parse a finished run's result; the attempt records what was read."""
        return drain(self.check_steps(run, number))

    def check_steps(
        self, run: AgentRunResponse, number: int
    ) -> Generator[None, None, tuple[T | None, OutputAttempt]]:
        """:meth:`check` in steps: it pauses (yields) after every slice of a long answer,
        so the async waits let the event loop run between them."""
        output, errors = yield from self._parse(run.result)
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
    """How many repair prompts the run's current answer received: those after the last
    follow-up that was not one (each resume appends a ``USER_MESSAGE``), so a later turn
    of a conversation has its own ``output_attempts``; all of them in a log without such
    a follow-up."""
    count = 0
    for entry in entries:
        if is_repair_entry(entry):
            count += 1
        elif entry.message_type == "USER_MESSAGE":
            count = 0
    return count


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
