"""Usage analytics over an organisation's recent agent runs (``codegen-graph runs stats``).

Pure functions over wire models; the command fetches, this module counts.

The API reports no finish time, so a run's duration is derived: from the run's
``created_at`` to the ``created_at`` of its last log entry (the final answer or error the
agent writes when it stops). Runs still going, and runs without logs or timestamps, have no
duration and are left out of the duration figures (``runs_timed`` says how many counted).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timezone
from typing import Any

from .._timestamps import parse_timestamp as parse_time
from ..models import AgentRunResponse, SourceType

__all__ = ["RunStats", "compute_stats", "parse_time", "percentile"]


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile of ``values`` (``None`` when empty).

    Nearest rank: the smallest value with at least ``pct`` percent of the values at or
    below it, so the answer is always one of the observed durations.
    """
    if not values:
        return None
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass
class RunStats:
    """What ``runs stats`` reports.

    Attributes:
        runs: runs considered (the ``--limit`` most recent).
        finished: runs in a terminal status.
        succeeded: runs that ended ``COMPLETE``.
        success_rate: ``succeeded / finished`` (``None`` when nothing finished).
        runs_timed: finished runs with a derived duration.
        median_seconds: median duration of the timed runs.
        p95_seconds: nearest-rank 95th percentile duration of the timed runs.
        by_status: run count per status.
        per_day: run count per UTC creation day (``YYYY-MM-DD``), oldest first.
        by_source: per source type: ``runs``, ``finished``, ``succeeded``, ``success_rate``.
    """

    runs: int = 0
    finished: int = 0
    succeeded: int = 0
    success_rate: float | None = None
    runs_timed: int = 0
    median_seconds: float | None = None
    p95_seconds: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)
    per_day: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _source(run: AgentRunResponse) -> str:
    source = run.source_type
    if isinstance(source, SourceType):
        return source.value
    return source or "UNKNOWN"


def _rate(succeeded: int, finished: int) -> float | None:
    return round(succeeded / finished, 4) if finished else None


def compute_stats(
    runs: Sequence[AgentRunResponse], last_log_at: Mapping[int, str | None]
) -> RunStats:
    """Aggregate ``runs``; ``last_log_at`` maps a run id to its last log entry's timestamp."""
    stats = RunStats(runs=len(runs))
    durations: list[float] = []
    statuses: Counter[str] = Counter()
    days: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = {}
    for run in runs:
        status = run.status
        statuses[status.canonical if status is not None else "UNKNOWN"] += 1
        created = parse_time(run.created_at)
        if created is not None:
            days[created.astimezone(timezone.utc).date().isoformat()] += 1
        per_source = sources.setdefault(_source(run), Counter())
        per_source["runs"] += 1
        if status is None or not status.is_terminal:
            continue
        stats.finished += 1
        per_source["finished"] += 1
        if status.is_success:
            stats.succeeded += 1
            per_source["succeeded"] += 1
        last = parse_time(last_log_at.get(run.id))
        if created is not None and last is not None and last >= created:
            durations.append((last - created).total_seconds())
    stats.success_rate = _rate(stats.succeeded, stats.finished)
    stats.runs_timed = len(durations)
    stats.median_seconds = statistics.median(durations) if durations else None
    stats.p95_seconds = percentile(durations, 95)
    stats.by_status = dict(sorted(statuses.items()))
    stats.per_day = dict(sorted(days.items()))
    stats.by_source = {
        name: {
            "runs": c["runs"],
            "finished": c["finished"],
            "succeeded": c["succeeded"],
            "success_rate": _rate(c["succeeded"], c["finished"]),
        }
        for name, c in sorted(sources.items())
    }
    return stats
