"""Typed results on the handle: output_schema= on create_and_wait and wait, offline."""

from __future__ import annotations

import json
import time
from datetime import datetime
from enum import Enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from codegen_graph import ConfigurationError, OutputValidationError, RunTimeoutError
from codegen_graph._output import (
    MAX_ANSWER_CHARS,
    REPAIR_MARKER,
    SCHEMA_FENCE,
    OutputSpec,
    extract_json,
)
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, RunContext, _schema_answer
from codegen_graph.local import Outcome as Segment

# The row of docs/reliability.md's Trust table (tools/reliability_table.py renders it).
TRUST_ROW = (
    "typed output: a 700 KB answer of code and answers nested 2,150 levels deep end "
    "`OutputValidationError` with the reason, without blocking the event loop for more "
    "than 50 ms; the local backend answers tuples, open ranges, `multipleOf`, sets and "
    "more (the `typed result` rows of the table below)"
)
TRUST_ALSO = (
    "tests/graph/test_typed_output.py",
    "tests/local/test_schema_answer.py",
)


class Risk(str, Enum):
    low = "low"
    high = "high"


class FileChange(BaseModel):
    path: str = Field(min_length=3)
    lines: int = Field(ge=1)


class Outcome(BaseModel):
    files: list[FileChange] = Field(min_length=1)
    risk: Risk
    kind: Literal["feature", "fix"]
    pr_url: str | None
    done_at: datetime
    follow_ups: list[str] = []


def test_extract_json_takes_the_last_object_fenced_or_not() -> None:
    assert extract_json('a {"x": 1} b ```json\n{"y": 2}\n``` c') == {"y": 2}
    assert extract_json('first {"a": 1} then {"b": {"c": 2}} end') == {"b": {"c": 2}}
    assert extract_json("```json\n[1, 2]\n```") is None
    assert extract_json("no json here {oops") is None
    assert extract_json(None) is None


def test_extract_json_reads_strings_and_skips_what_does_not_parse() -> None:
    assert extract_json('{"a": "}{", "b": "say \\"{\\""} then') == {"a": "}{", "b": 'say "{"'}
    assert extract_json('{ not json {"inner": 1} }') == {"inner": 1}  # the outer fails
    assert extract_json("s = '{'; if (x) { y('[') }\n" * 50 + '{"last": [1]}') == {"last": [1]}
    assert extract_json('{"a": "no end\n{"b": 2}') == {"b": 2}  # a string ends at a newline
    assert extract_json("```json\n{}\n``` then {x}") == {}
    assert extract_json('{ ```json\n[{"a": 1}]\n``` {"b": 2}') == {"b": 2}  # not a list
    hundred = '{"a": ' * 99 + "[1]" + "}" * 99
    assert extract_json(hundred) == json.loads(hundred)  # MAX_DEPTH levels parse


def test_parse_reports_fields_never_values() -> None:
    spec = OutputSpec(Outcome)
    output, errors = spec.parse('```json\n{"risk": "sk-secret-value-123", "kind": "x"}\n```')
    assert output is None
    assert any(e.startswith("files:") for e in errors)
    assert any(e.startswith("risk:") for e in errors)
    assert not any("sk-secret-value-123" in e for e in errors)
    assert spec.parse("nothing")[1] == ("(answer): no JSON object found in the final answer",)


def test_bad_specs_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="BaseModel subclass"):
        OutputSpec(dict)  # type: ignore[type-var]
    with pytest.raises(ConfigurationError, match=">= 1"):
        OutputSpec(Outcome, max_attempts=0)


def test_the_local_backend_answers_a_pydantic_schema_validly() -> None:
    spec = OutputSpec(Outcome)
    prompt = spec.with_instructions("Add a /health endpoint")
    assert _schema_answer.SCHEMA_FENCE == SCHEMA_FENCE
    schema = _schema_answer.find_schema([prompt])
    assert schema == json.loads(spec.schema_json)
    answer = _schema_answer.with_schema_answer([prompt], "Done.")
    output, errors = spec.parse(answer)
    assert errors == ()
    assert isinstance(output, Outcome)
    assert output.files[0].lines >= 1
    assert _schema_answer.with_schema_answer(["no schema"], "Done.") == "Done."


def test_schema_valid_at_once() -> None:
    with LocalCodegen(clock=ManualClock()) as local, local.client() as client:
        run = client.agent_runs.create_and_wait("Add a /health endpoint", output_schema=Outcome)
        assert isinstance(run.output, Outcome)
        assert run.output_attempts == ()
        stats = local.stats()
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 0)
    assert "logs" not in stats["requests"]  # a valid first answer costs no extra request


def test_invalid_twice_then_valid_two_resumes_one_run() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
    ):
        run = client.agent_runs.create_and_wait(
            "Add a typed /health endpoint", output_schema=Outcome
        )
        assert isinstance(run.output, Outcome)
        assert [a.number for a in run.output_attempts] == [1, 2]
        assert run.output_attempts[0].errors == (
            "(answer): no JSON object found in the final answer",
        )
        assert any(e.startswith("files:") for e in run.output_attempts[1].errors)
        repairs = [e for e in run.logs() if e.message_type == "USER_MESSAGE"]
        stats = local.stats()
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 2)
    assert [e.thought.split("]")[0] for e in repairs if e.thought] == [
        f"{REPAIR_MARKER} 2 of 3",
        f"{REPAIR_MARKER} 3 of 3",
    ]


def test_never_valid_raises_with_every_attempt_and_no_extra_run() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
    ):
        with pytest.raises(OutputValidationError) as info:
            client.agent_runs.create_and_wait(
                "never valid: add an endpoint", output_schema=Outcome, output_attempts=4
            )
        stats = local.stats()
    err = info.value
    assert not err.is_transient
    assert [a.number for a in err.attempts] == [1, 2, 3, 4]
    assert [a.result for a in err.attempts] == [
        f"Attempt {n}: I would rather not answer in JSON." for n in (1, 2, 3, 4)
    ]
    assert err.run is not None and err.run.status == "COMPLETE"
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 3)


def test_a_second_wait_counts_the_repairs_already_sent() -> None:
    """Attempts are read back from the run's log: a later wait never exceeds the bound."""
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
    ):
        with pytest.raises(OutputValidationError):
            client.agent_runs.create_and_wait("never valid: x", output_schema=Outcome)
        run = client.agent_runs.attach(client.agent_runs.list().items[0].id)
        with pytest.raises(OutputValidationError) as info:
            run.wait(output_schema=Outcome)
        stats = local.stats()
    assert [a.number for a in info.value.attempts] == [3]
    assert stats["runs_resumed"] == 2


def test_the_timeout_covers_the_repairs() -> None:
    with (
        LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local,
        local.client() as client,
        pytest.raises(RunTimeoutError),
    ):
        client.agent_runs.create_and_wait("Add a typed endpoint", output_schema=Outcome, timeout=70)


async def test_async_invalid_twice_then_valid() -> None:
    with LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local:
        async with local.async_client() as client:
            run = await client.agent_runs.create_and_wait(
                "Add a typed /health endpoint", output_schema=Outcome
            )
            assert isinstance(run.output, Outcome)
            assert [a.number for a in run.output_attempts] == [1, 2]
        stats = local.stats()
    assert (stats["runs_created"], stats["runs_resumed"]) == (1, 2)


async def test_async_never_valid() -> None:
    with LocalCodegen(clock=ManualClock(), scenario="typed_output_repair") as local:
        async with local.async_client() as client:
            with pytest.raises(OutputValidationError) as info:
                await client.agent_runs.create_and_wait("never valid: y", output_schema=Outcome)
        stats = local.stats()
    assert len(info.value.attempts) == 3
    assert stats["runs_resumed"] == 2


# Answers of issue #21: a long one of code with many "{" and no JSON object, and objects
# nested far deeper than MAX_DEPTH (15 KB), in a fence or not.
CODE = 'function f(x) {\n  if (x) { return {"k": x, a: [1]}; }\n  while (y) { z("}"); }\n}\n'
BIG_CODE = "Here is the change:\n```js\n" + CODE * (700_000 // len(CODE)) + "```\n"
NESTED = '{"a": ' * 2150 + "1" + "}" * 2150
FENCED_NESTED = f"Done.\n```json\n{NESTED}\n```"
TOO_DEEP = "(answer): the JSON nests deeper than 100 levels"


class Answers:
    """Every segment of a run ends ``COMPLETE`` with the same answer."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def plan(self, ctx: RunContext) -> Segment:
        return Segment(status="COMPLETE", result=self.answer)


def test_extracting_json_takes_linear_time() -> None:
    def best(text: str) -> float:  # CPU seconds of this thread: other processes do not count
        times = []
        for _ in range(5):
            start = time.thread_time()
            extract_json(text)
            times.append(time.thread_time() - start)
        return min(times)

    small = CODE * (200_000 // len(CODE))
    assert best(small * 2) < 3 * best(small)  # quadratic was 4x


@pytest.mark.parametrize("text", [NESTED, FENCED_NESTED], ids=["unfenced", "fenced"])
def test_a_deeply_nested_answer_is_invalid_with_the_reason(text: str) -> None:
    assert len(text) > 15_000
    assert OutputSpec(Outcome).parse(text) == (None, (TOO_DEEP,))


def test_an_answer_over_the_size_bound_is_invalid_with_the_reason() -> None:
    text = '{"x": "' + "x" * MAX_ANSWER_CHARS + '"}'
    assert OutputSpec(Outcome).parse(text)[1] == (
        "(answer): the answer has 1,000,009 characters; answers over 1,000,000 are not parsed",
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (BIG_CODE, "(answer): no JSON object found in the final answer"),
        (NESTED, TOO_DEEP),
        (FENCED_NESTED, TOO_DEEP),
    ],
    ids=["700KB-code", "nested", "nested-fenced"],
)
async def test_a_long_or_deep_answer_is_repaired_then_invalid_without_blocking_the_loop(
    answer: str, reason: str, loop_stalls: Any
) -> None:
    with LocalCodegen(clock=ManualClock(), behavior=Answers(answer)) as local:
        async with local.async_client() as client:
            run = await client.agent_runs.start("Refactor the parser")
            error, stall = await loop_stalls(run.wait(output_schema=Outcome))
        stats = local.stats()
    assert isinstance(error, OutputValidationError), error
    assert [a.errors for a in error.attempts] == [(reason,)] * 3
    assert stats["runs_resumed"] == 2
    assert stall < 0.05


async def test_a_long_answer_that_ends_with_the_object_validates_off_the_loop(
    loop_stalls: Any,
) -> None:
    valid = _schema_answer.instance(Outcome.model_json_schema())
    answer = f"{BIG_CODE}\nResult: {json.dumps(valid)}"  # not fenced: the whole text is scanned
    with LocalCodegen(clock=ManualClock(), behavior=Answers(answer)) as local:
        async with local.async_client() as client:
            run = await client.agent_runs.start("Refactor the parser")
            done, stall = await loop_stalls(run.wait(output_schema=Outcome))
    assert done is run and isinstance(run.output, Outcome)
    assert stall < 0.05
