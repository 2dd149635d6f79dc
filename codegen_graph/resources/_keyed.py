"""Keyed creates: find a run by its idempotency key, bounded by time, one create per key.

Codegen has no idempotency keys and its run list has no metadata filter, so a key is kept in
the run's metadata and a run is found again by paging the run list, newest first. The scan
is bounded by *time*, not by count: it stops at the first page that reaches back past the
moment the key's intent began (minus :data:`CLOCK_SKEW`), however many runs are newer. A run
with the key cannot be older than that moment, so stopping there misses nothing.

Costs (each page is one ``GET /agent/runs`` of 100 runs, paced by the client's ``standard``
rate budget): a scan reads ``1 + (runs created since the bound) // 100`` pages at most, and
stops at the page that holds the key's run.

Within one process, calls with one key are single-flight: threads (through one
``threading.Lock`` per key, shared by every client of the process) and asyncio tasks (one
``asyncio.Lock`` per key and event loop) wait for the call in flight, then find its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._base_client import Recovery, RequestSpec
from .._exceptions import ConfigurationError
from .._timestamps import parse_timestamp
from ..models import (
    AgentRunResponse,
    AgentRunWithLogsResponse,
    AgentType,
    CreateAgentRunInput,
    Page,
    ResumeAgentRunInput,
)
from ._resource import build_input, check_id, check_metadata, check_text, next_skip

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_KEY_LOOKBACK",
    "IDEMPOTENCY_METADATA_KEY",
    "KeyMemo",
    "KeyedCreate",
    "ScanStep",
    "TimeLike",
    "aflight",
    "create_call",
    "flight",
    "log_scan_spec",
    "lookup_bound",
    "resume_marker",
    "resume_spec",
    "scan_spec",
]

#: The metadata key under which ``create`` stores its idempotency key.
IDEMPOTENCY_METADATA_KEY = "codegen_graph_idempotency_key"

#: How far back (seconds) a key lookup looks when nobody knows when the key's intent began
#: (a key from elsewhere, passed without ``created_after=``): one day.
DEFAULT_KEY_LOOKBACK = 86_400.0

#: Seconds subtracted from every lookup bound, for the difference between this machine's
#: clock and the API's (``created_at`` is the server's time).
CLOCK_SKEW = 300.0

_PAGE = 100
_MEMO_SIZE = 4096

#: When a key's intent began: seconds since the epoch or a datetime (``None``: unknown).
TimeLike = float | int | datetime


def to_epoch(value: float | int | datetime, name: str = "created_after") -> float:
    """Seconds since the epoch from a number or a datetime (naive means UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"{name} must be a datetime or seconds since the epoch, got {value!r}"
        )
    return float(value)


def lookup_bound(created_after: float | int | datetime | None, now: float) -> float:
    """The oldest ``created_at`` a scan must still read (the skew margin included)."""
    start = now - DEFAULT_KEY_LOOKBACK if created_after is None else to_epoch(created_after)
    return start - CLOCK_SKEW


def parse_created(value: str | None) -> float | None:
    """A run's ``created_at`` as epoch seconds, ``None`` when absent or unreadable."""
    parsed = parse_timestamp(value)
    return None if parsed is None else parsed.timestamp()


def has_key(run: AgentRunResponse, key: str) -> bool:
    return (run.metadata or {}).get(IDEMPOTENCY_METADATA_KEY) == key


@dataclass(frozen=True)
class ScanStep:
    """One page of a key scan: the runs found so far, and the next page to read (``None``:
    stop, because every key was found, the bound was passed or the list ended)."""

    found: dict[str, AgentRunResponse]
    next: RequestSpec[ScanStep] | None

    def first(self, key: str) -> AgentRunResponse | None:
        return self.found.get(key)


def scan_spec(
    org: int,
    keys: frozenset[str],
    bound: float,
    skip: int = 0,
    found: dict[str, AgentRunResponse] | None = None,
) -> RequestSpec[ScanStep]:
    """The request for one page of the scan for ``keys`` back to ``bound`` (epoch seconds).

    Runs are listed newest first, so the scan stops at the first page whose oldest run is
    older than ``bound``: any run with one of the keys was created after it.
    """
    known = dict(found or {})

    def parse(data: Any) -> ScanStep:
        page = Page[AgentRunResponse].model_validate(data)
        hits = dict(known)
        for run in page.items:
            key = (run.metadata or {}).get(IDEMPOTENCY_METADATA_KEY)
            if key in keys and key not in hits:
                hits[key] = run
        if len(hits) == len(keys):
            return ScanStep(hits, None)
        times = [t for t in (parse_created(r.created_at) for r in page.items) if t is not None]
        following = next_skip(skip, len(page.items), page.total, _PAGE)
        if following is None or (times and min(times) < bound):
            return ScanStep(hits, None)
        return ScanStep(hits, scan_spec(org, keys, bound, following, hits))

    return RequestSpec(
        "GET",
        f"/v1/organizations/{org}/agent/runs",
        parse=parse,
        params={"skip": skip, "limit": _PAGE},
    )


class KeyedCreate:
    """A create call, checked and described once: its request and its key."""

    def __init__(
        self,
        org: int,
        prompt: str,
        images: Sequence[str] | None,
        metadata: Mapping[str, Any] | None,
        repo_id: int | None,
        model: str | None,
        agent_type: AgentType | None,
        idempotency_key: str | None,
        now: float,
    ) -> None:
        check_text("prompt", prompt)
        if repo_id is not None:
            check_id("repo_id", repo_id)
        meta = check_metadata(metadata)
        existing = meta.get(IDEMPOTENCY_METADATA_KEY)
        if idempotency_key is not None and existing not in (None, idempotency_key):
            raise ConfigurationError(
                f"metadata[{IDEMPOTENCY_METADATA_KEY!r}] and idempotency_key=... disagree; pass one"
            )
        #: Whether the caller chose the key (a fresh uuid4 cannot have a run yet).
        self.keyed = (idempotency_key or existing) is not None
        key = idempotency_key or existing or uuid.uuid4().hex
        self.key: str = check_text("idempotency_key", key)
        meta[IDEMPOTENCY_METADATA_KEY] = key
        body = build_input(
            CreateAgentRunInput,
            prompt=prompt,
            images=list(images) if images is not None else None,
            metadata=meta,
            repo_id=repo_id,
            model=model,
            agent_type=agent_type,
        )
        # A lost response is looked for among the runs created since this call began.
        first = scan_spec(org, frozenset({key}), now - CLOCK_SKEW)
        self.spec: RequestSpec[AgentRunResponse] = RequestSpec(
            "POST",
            f"/v1/organizations/{org}/agent/run",
            parse=AgentRunResponse.model_validate,
            json=body.model_dump(mode="json", exclude_none=True),
            recovery=Recovery(
                lookup=first,
                pick=lambda step: step.first(key),
                next_lookup=lambda step: step.next,
            ),
        )


def create_call(org: int, now: float, prompt: str, kwargs: Mapping[str, Any]) -> KeyedCreate:
    """A :class:`KeyedCreate` from ``create``'s keyword arguments (for batches)."""
    allowed = {"images", "metadata", "repo_id", "model", "agent_type", "idempotency_key"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ConfigurationError(f"unknown create argument(s): {sorted(unknown)}")
    return KeyedCreate(
        org,
        prompt,
        kwargs.get("images"),
        kwargs.get("metadata"),
        kwargs.get("repo_id"),
        kwargs.get("model"),
        kwargs.get("agent_type"),
        kwargs.get("idempotency_key"),
        now,
    )


# -- keyed resumes -------------------------------------------------------------------------


def resume_marker(key: str) -> str:
    """The line a keyed resume appends to its prompt, found again in the run's log."""
    return f"[codegen-graph follow-up {key}]"


def _mentions(entry: Any, marker: str) -> bool:
    for value in (entry.thought, entry.observation, entry.tool_input, entry.tool_output):
        if value is not None and marker in (value if isinstance(value, str) else str(value)):
            return True
    return False


@dataclass(frozen=True)
class LogScanStep:
    """One page of a run's log, newest first: the run if the marker is there, or the next
    page to read (``None``: the log was read to its start)."""

    found: AgentRunResponse | None
    next: RequestSpec[LogScanStep] | None


def log_scan_spec(org: int, run_id: int, marker: str, skip: int = 0) -> RequestSpec[LogScanStep]:
    """One page (newest first) of the scan of a run's log for ``marker``."""

    def parse(data: Any) -> LogScanStep:
        page = AgentRunWithLogsResponse.model_validate(data)
        if any(_mentions(entry, marker) for entry in page.logs):
            run = AgentRunResponse(
                id=page.id,
                organization_id=page.organization_id,
                status=page.status,
                created_at=page.created_at,
                web_url=page.web_url,
                result=page.result,
                metadata=page.metadata,
            )
            return LogScanStep(run, None)
        following = next_skip(skip, len(page.logs), page.total_logs, _PAGE)
        if following is None:
            return LogScanStep(None, None)
        return LogScanStep(None, log_scan_spec(org, run_id, marker, following))

    return RequestSpec(
        "GET",
        f"/v1/alpha/organizations/{org}/agent/run/{run_id}/logs",
        parse=parse,
        params={"skip": skip, "limit": _PAGE, "reverse": "true"},
    )


def resume_spec(
    org: int,
    agent_run_id: int,
    prompt: str,
    images: Sequence[str] | None,
    key: str | None,
) -> RequestSpec[AgentRunResponse]:
    """``POST .../run/resume``; with a key, the prompt carries its marker and a lost
    response is looked for in the run's log before any retry."""
    check_id("agent_run_id", agent_run_id)
    check_text("prompt", prompt)
    if key is not None:
        check_text("idempotency_key", key)
        # First, as a paragraph of its own: agents (and the local backend) read the
        # follow-up's last paragraph as the request.
        prompt = f"{resume_marker(key)}\n\n{prompt}"
    body = build_input(
        ResumeAgentRunInput,
        agent_run_id=agent_run_id,
        prompt=prompt,
        images=list(images) if images is not None else None,
    )
    recovery: Recovery[AgentRunResponse] | None = None
    if key is not None:
        recovery = Recovery(
            lookup=log_scan_spec(org, agent_run_id, resume_marker(key)),
            pick=lambda step: step.found,
            next_lookup=lambda step: step.next,
        )
    return RequestSpec(
        "POST",
        f"/v1/organizations/{org}/agent/run/resume",
        parse=AgentRunResponse.model_validate,
        json=body.model_dump(mode="json", exclude_none=True),
        idempotent=False,
        recovery=recovery,
    )


class KeyMemo:
    """The runs this client created or found per key (a bounded LRU of run ids)."""

    def __init__(self, size: int = _MEMO_SIZE) -> None:
        self._ids: OrderedDict[str, int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> int | None:
        with self._lock:
            run_id = self._ids.get(key)
            if run_id is not None:
                self._ids.move_to_end(key)
            return run_id

    def put(self, key: str, run_id: int) -> None:
        with self._lock:
            self._ids[key] = run_id
            self._ids.move_to_end(key)
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._ids.pop(key, None)


# -- single flight ------------------------------------------------------------------------

_FlightKey = tuple[str, int, str]


class _Slot:
    __slots__ = ("lock", "refs")

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.refs = 0


_GUARD = threading.Lock()
_THREAD_SLOTS: dict[_FlightKey, _Slot] = {}
_TASK_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_FlightKey, _Slot]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.contextmanager
def flight(key: _FlightKey) -> Iterator[None]:
    """Hold the process-wide lock of one key (threads wait their turn)."""
    with _GUARD:
        slot = _THREAD_SLOTS.setdefault(key, _Slot(threading.Lock()))
        slot.refs += 1
    try:
        with slot.lock:
            yield
    finally:
        with _GUARD:
            slot.refs -= 1
            if slot.refs == 0:
                _THREAD_SLOTS.pop(key, None)


@contextlib.asynccontextmanager
async def aflight(key: _FlightKey) -> AsyncIterator[None]:
    """Hold the lock of one key on this event loop (tasks wait their turn)."""
    loop = asyncio.get_running_loop()
    with _GUARD:
        table = _TASK_SLOTS.setdefault(loop, {})
        slot = table.setdefault(key, _Slot(asyncio.Lock()))
        slot.refs += 1
    try:
        async with slot.lock:
            yield
    finally:
        with _GUARD:
            slot.refs -= 1
            if slot.refs == 0:
                table.pop(key, None)
