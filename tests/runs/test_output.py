"""Typed results on the handle: output_schema= on create_and_wait and wait, offline."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from codegen_graph import ConfigurationError, OutputValidationError, RunTimeoutError
from codegen_graph._output import (
    REPAIR_MARKER,
    SCHEMA_FENCE,
    OutputSpec,
    extract_json,
)
from codegen_graph.clock import ManualClock
from codegen_graph.local import LocalCodegen, _schema_answer


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
