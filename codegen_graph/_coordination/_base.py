"""What every part of the Redis plug-in shares: its time (real milliseconds: every score
and stamp kept in Redis), and "Redis did not answer"."""

from __future__ import annotations

import time

__all__ = ["CoordinationDown", "now_ms"]


def now_ms() -> int:
    """Real (wall-clock) milliseconds: the time of every score and stamp kept in Redis."""
    return time.time_ns() // 1_000_000


class CoordinationDown(Exception):
    """Redis did not answer (internal: callers fall back to local behaviour)."""
