"""The API's timestamps read once: ISO 8601, a ``Z`` suffix, naive ones taken as UTC."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["parse_timestamp"]


def parse_timestamp(stamp: str | None) -> datetime | None:
    """An API timestamp as an aware datetime (naive ones are taken as UTC), or ``None``.

    ``None`` also for an empty or unreadable value: a timestamp is never worth an error.
    """
    if not stamp:
        return None
    try:
        value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
