"""The pure statistics behind `runs stats`."""

from __future__ import annotations

import pytest

from codegen_graph.cli._stats import compute_stats, parse_time, percentile
from codegen_graph.models import AgentRunResponse


def _run(
    run_id: int, status: str | None, created: str | None, source: str = "API"
) -> AgentRunResponse:
    return AgentRunResponse.model_validate(
        {
            "id": run_id,
            "organization_id": 1,
            "status": status,
            "created_at": created,
            "source_type": source,
        }
    )


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile(values, 50) == 10.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 95) is None
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_parse_time_accepts_z_naive_and_garbage() -> None:
    assert parse_time("2025-01-02T03:04:05Z") == parse_time("2025-01-02T03:04:05+00:00")
    naive = parse_time("2025-01-02T03:04:05")
    assert naive is not None and naive.utcoffset() is not None
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_compute_stats() -> None:
    runs = [
        _run(1, "COMPLETE", "2025-03-01T10:00:00+00:00"),
        _run(2, "completed", "2025-03-01T23:30:00+00:00", "SLACK"),  # documented spelling
        _run(3, "FAILED", "2025-03-02T00:10:00Z"),
        _run(4, "RUNNING", "2025-03-02T01:00:00Z"),
        _run(5, "STOPPED", None, "SOMETHING_NEW"),
        _run(6, "ERROR", "2025-03-03T08:00:00+00:00"),
    ]
    last = {
        1: "2025-03-01T10:01:40+00:00",  # 100 s
        2: "2025-03-01T23:35:00+00:00",  # 300 s
        3: "2025-03-02T00:10:20Z",  # 20 s
        4: "2025-03-02T01:00:30Z",  # still running: not timed
        5: "2025-03-03T00:00:00Z",  # no created_at: not timed
        6: None,  # no logs: not timed
    }
    stats = compute_stats(runs, last)
    assert (stats.runs, stats.finished, stats.succeeded) == (6, 5, 2)
    assert stats.success_rate == 0.4
    assert stats.runs_timed == 3
    assert stats.median_seconds == 100.0 and stats.p95_seconds == 300.0
    assert stats.by_status == {"COMPLETE": 2, "ERROR": 1, "FAILED": 1, "RUNNING": 1, "STOPPED": 1}
    assert stats.per_day == {"2025-03-01": 2, "2025-03-02": 2, "2025-03-03": 1}
    assert stats.by_source["API"] == {
        "runs": 4,
        "finished": 3,
        "succeeded": 1,
        "success_rate": 0.3333,
    }
    assert stats.by_source["SLACK"]["success_rate"] == 1.0
    assert stats.by_source["SOMETHING_NEW"]["runs"] == 1
    assert stats.to_dict()["median_seconds"] == 100.0


def test_compute_stats_of_nothing() -> None:
    stats = compute_stats([], {})
    assert stats.runs == 0 and stats.success_rate is None and stats.p95_seconds is None
