from __future__ import annotations

import pytest
from pydantic import BaseModel

from codegen_graph import AgentRunStatus


@pytest.mark.parametrize(
    ("raw", "canonical", "terminal", "success"),
    [
        ("PENDING", "PENDING", False, False),
        ("queued", "PENDING", False, False),
        ("ACTIVE", "ACTIVE", False, False),
        ("RUNNING", "RUNNING", False, False),
        ("in_progress", "RUNNING", False, False),
        ("COMPLETE", "COMPLETE", True, True),
        ("completed", "COMPLETE", True, True),
        ("FAILED", "FAILED", True, False),
        ("failed", "FAILED", True, False),
        ("ERROR", "ERROR", True, False),
        ("CANCELLED", "CANCELLED", True, False),
        ("canceled", "CANCELLED", True, False),
        ("STOPPED", "STOPPED", True, False),
    ],
)
def test_known_statuses(raw: str, canonical: str, terminal: bool, success: bool) -> None:
    s = AgentRunStatus(raw)
    assert s.canonical == canonical
    assert s.is_known
    assert s.is_terminal is terminal
    assert s.is_success is success
    assert s.raw == raw
    assert s == canonical
    assert s == raw.lower()


def test_unknown_status_is_kept_and_not_terminal() -> None:
    s = AgentRunStatus("EVALUATING_PR")
    assert s.raw == "EVALUATING_PR"
    assert not s.is_known
    assert not s.is_terminal
    assert not s.is_success
    assert not s.is_failure


def test_failure_set() -> None:
    assert {s for s in ["FAILED", "ERROR", "CANCELLED"] if AgentRunStatus(s).is_failure} == {
        "FAILED",
        "ERROR",
        "CANCELLED",
    }
    assert not AgentRunStatus.STOPPED.is_failure


def test_hash_and_eq_follow_canonical() -> None:
    assert {AgentRunStatus("completed"): 1}[AgentRunStatus.COMPLETE] == 1
    assert AgentRunStatus("completed") != "FAILED"
    assert AgentRunStatus("completed") != 3


def test_pydantic_round_trip_keeps_raw() -> None:
    class M(BaseModel):
        status: AgentRunStatus

    m = M.model_validate({"status": "completed"})
    assert isinstance(m.status, AgentRunStatus)
    assert m.status.is_success
    assert m.model_dump() == {"status": "completed"}
    assert m.model_dump_json() == '{"status":"completed"}'


def test_non_string_rejected() -> None:
    with pytest.raises(TypeError):
        AgentRunStatus(3)  # type: ignore[arg-type]
