"""The agent-run calls, described once: request specs with no I/O.

Every caller (the ``agent_runs`` resource, keyed creates, the watcher, run handles) builds
its requests here, so a call is checked, parsed and recovered the same way wherever it is
made. Both clients only execute these descriptions.

**Lists are read item by item.** A page of the org's runs holds other people's runs too;
one that does not match the model (a pull request without ``created_at``, ``metadata``
that is a list...) is skipped, and said once at WARNING (its id and what is wrong, never
its values), so it never stops a wait or a keyed create. :attr:`RunPage.received` still
counts it, so paging goes on from the right offset.

**Keys.** Codegen has no idempotency keys and its run list has no metadata filter, so a
key is kept in the run's metadata (:data:`IDEMPOTENCY_METADATA_KEY`) and found again by
paging the run list, newest first, back to when the key's intent began (minus
:data:`CLOCK_SKEW`): one request per 100 runs created since then. A keyed follow-up starts
with its own marker line (:func:`resume_marker`) and is found again in the run's log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pydantic

from ._base_client import Recovery, RequestSpec
from ._checks import (
    build_input,
    check_id,
    check_limit,
    check_metadata,
    check_skip,
    check_text,
    next_skip,
)
from ._exceptions import ConfigurationError
from ._keys import KeyMemo
from ._problems import describe_problems
from ._timestamps import parse_timestamp
from .models import (
    AgentRunResponse,
    AgentRunWithLogsResponse,
    AgentType,
    CreateAgentRunInput,
    Page,
    ResumeAgentRunInput,
    SourceType,
    StopAgentRunInput,
)

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_KEY_LOOKBACK",
    "IDEMPOTENCY_METADATA_KEY",
    "KeyedCreate",
    "LogScanStep",
    "RunPage",
    "ScanStep",
    "TimeLike",
    "get_run",
    "has_key",
    "key_of",
    "list_runs",
    "log_scan",
    "lookup_bound",
    "resume",
    "resume_marker",
    "run_logs",
    "scan",
    "stop_run",
    "to_epoch",
]

log = logging.getLogger("codegen_graph.client")

#: The metadata key under which ``create`` stores its idempotency key.
IDEMPOTENCY_METADATA_KEY = "codegen_graph_idempotency_key"
#: How far back (seconds) a key lookup looks when nobody knows when the key's intent began
#: (a key from elsewhere, passed without ``created_after=``): one day.
DEFAULT_KEY_LOOKBACK = 86_400.0
#: Seconds subtracted from every lookup bound, for the difference between this machine's
#: clock and the API's (``created_at`` is the server's time).
CLOCK_SKEW = 300.0
PAGE = 100

#: When a key's intent began: seconds since the epoch or a datetime (``None``: unknown).
TimeLike = float | int | datetime


def _org(org: int) -> str:
    return f"/v1/organizations/{org}/agent"


# -- reading runs -----------------------------------------------------------------------------


class RunPage(Page[AgentRunResponse]):
    """A page of runs whose unreadable items were skipped; :attr:`received` counts them."""

    _received: int = pydantic.PrivateAttr(default=0)

    @property
    def received(self) -> int:
        """How many items the server sent (the offset of the next page moves by this)."""
        return max(self._received, len(self.items))


#: Which unreadable runs were already reported (bounded, so it never grows for ever).
_SAID = KeyMemo()


def parse_run_page(data: Any) -> RunPage:
    """A run list page, validated item by item (see the module docstring)."""
    raw = data.get("items") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return RunPage.model_validate(data)  # not a page at all: the usual error
    items = []
    for item in raw:
        try:
            items.append(AgentRunResponse.model_validate(item))
        except pydantic.ValidationError as exc:
            run_id = item.get("id") if isinstance(item, dict) else None
            if _SAID.first_time(run_id if isinstance(run_id, int) else repr(type(item))):
                problems = describe_problems(exc, limit=3)
                log.warning(
                    "agent run %s in the org's run list does not match the API's model (%s); "
                    "skipped for listing (a wait on it reads it by id)",
                    run_id if isinstance(run_id, int) else "(no id)",
                    problems,
                )
    page = RunPage.model_validate({**data, "items": []})
    page.items = items
    page._received = len(raw)
    return page


def list_runs(
    org: int,
    skip: int = 0,
    limit: int = PAGE,
    user_id: int | None = None,
    source_type: SourceType | str | None = None,
    *,
    max_retries: int | None = None,
) -> RequestSpec[RunPage]:
    """``GET .../agent/runs``: one page, newest first."""
    check_skip(skip)
    check_limit(limit)
    if user_id is not None:
        check_id("user_id", user_id)
    source = source_type.value if isinstance(source_type, SourceType) else source_type
    params = {"skip": skip, "limit": limit, "user_id": user_id, "source_type": source}
    return RequestSpec(
        "GET", f"{_org(org)}/runs", parse=parse_run_page, params=params, max_retries=max_retries
    )


def get_run(
    org: int, agent_run_id: int, *, max_retries: int | None = None
) -> RequestSpec[AgentRunResponse]:
    """``GET .../agent/run/{id}``."""
    check_id("agent_run_id", agent_run_id)
    return RequestSpec(
        "GET",
        f"{_org(org)}/run/{agent_run_id}",
        parse=AgentRunResponse.model_validate,
        max_retries=max_retries,
    )


def run_logs(
    org: int,
    agent_run_id: int,
    skip: int = 0,
    limit: int = PAGE,
    reverse: bool = False,
    *,
    max_retries: int | None = None,
) -> RequestSpec[AgentRunWithLogsResponse]:
    """``GET /v1/alpha/.../logs``: one page of a run's log."""
    check_id("agent_run_id", agent_run_id)
    check_skip(skip)
    check_limit(limit)
    return RequestSpec(
        "GET",
        f"/v1/alpha/organizations/{org}/agent/run/{agent_run_id}/logs",
        parse=AgentRunWithLogsResponse.model_validate,
        params={"skip": skip, "limit": limit, "reverse": "true" if reverse else "false"},
        max_retries=max_retries,
    )


def stop_run(org: int, action: str, agent_run_id: int) -> RequestSpec[None]:
    """``POST .../agent/run/{ban|unban|remove-from-pr}``."""
    check_id("agent_run_id", agent_run_id)
    body = build_input(StopAgentRunInput, agent_run_id=agent_run_id)
    return RequestSpec(
        "POST",
        f"{_org(org)}/run/{action}",
        parse=lambda _data: None,
        json=body.model_dump(mode="json", exclude_none=True),
    )


# -- keys -------------------------------------------------------------------------------------


def to_epoch(value: TimeLike, name: str = "created_after") -> float:
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


def lookup_bound(created_after: TimeLike | None, now: float) -> float:
    """The oldest ``created_at`` a scan must still read (the skew margin included)."""
    start = now - DEFAULT_KEY_LOOKBACK if created_after is None else to_epoch(created_after)
    return start - CLOCK_SKEW


def has_key(run: AgentRunResponse, key: str) -> bool:
    return (run.metadata or {}).get(IDEMPOTENCY_METADATA_KEY) == key


@dataclass(frozen=True)
class ScanStep:
    """One page of a key scan: the runs found so far, and the next page to read (``None``:
    stop, because every key was found, the bound was passed or the list ended)."""

    found: dict[str, AgentRunResponse]
    next: RequestSpec[ScanStep] | None
    #: Keys seen on items that could not be read (their run ids): read those by id.
    unreadable: dict[str, int] = field(default_factory=dict)


def _unreadable_keys(data: Any, keys: frozenset[str], page: RunPage) -> dict[str, int]:
    """Keys held by raw items the page had to skip (``{key: run id}``)."""
    read = {run.id for run in page.items}
    found: dict[str, int] = {}
    for item in data.get("items") or [] if isinstance(data, dict) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            continue
        meta = item.get("metadata")
        key = meta.get(IDEMPOTENCY_METADATA_KEY) if isinstance(meta, dict) else None
        if key in keys and item["id"] not in read:
            found[key] = item["id"]
    return found


def scan(
    org: int,
    keys: frozenset[str],
    bound: float,
    skip: int = 0,
    found: dict[str, AgentRunResponse] | None = None,
) -> RequestSpec[ScanStep]:
    """One page of the scan for ``keys`` back to ``bound`` (epoch seconds).

    Runs are listed newest first, so the scan stops at the first page whose oldest run is
    older than ``bound``: any run with one of the keys was created after it.
    """
    known = dict(found or {})

    def parse(data: Any) -> ScanStep:
        page = parse_run_page(data)
        hits = dict(known)
        for run in page.items:
            key = (run.metadata or {}).get(IDEMPOTENCY_METADATA_KEY)
            if key in keys and key not in hits:
                hits[key] = run
        lost = {k: i for k, i in _unreadable_keys(data, keys, page).items() if k not in hits}
        if lost:
            log.warning("a run with a wanted key could not be read from the list; reading it by id")
        if len(hits) + len(lost) >= len(keys):
            return ScanStep(hits, None, lost)
        times = [parse_timestamp(r.created_at) for r in page.items]
        oldest = min((t.timestamp() for t in times if t is not None), default=None)
        following = next_skip(skip, page.received, page.total, PAGE)
        if following is None or (oldest is not None and oldest < bound):
            return ScanStep(hits, None, lost)
        return ScanStep(hits, scan(org, keys, bound, following, hits), lost)

    return RequestSpec(
        "GET", f"{_org(org)}/runs", parse=parse, params={"skip": skip, "limit": PAGE}
    )


def key_of(create_args: Mapping[str, Any]) -> str | None:
    """The key a create's arguments name: ``idempotency_key``, else the metadata's."""
    metadata = create_args.get("metadata")
    key = create_args.get("idempotency_key") or (
        metadata.get(IDEMPOTENCY_METADATA_KEY) if isinstance(metadata, Mapping) else None
    )
    return str(key) if key else None


class KeyedCreate:
    """A create call, checked and described once: its request and its key."""

    def __init__(
        self,
        org: int,
        prompt: str,
        *,
        now: float,
        images: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        repo_id: int | None = None,
        model: str | None = None,
        agent_type: AgentType | None = None,
        idempotency_key: str | None = None,
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
        self.spec: RequestSpec[AgentRunResponse] = RequestSpec(
            "POST",
            f"{_org(org)}/run",
            parse=AgentRunResponse.model_validate,
            json=body.model_dump(mode="json", exclude_none=True),
            recovery=Recovery(
                lookup=scan(org, frozenset({key}), now - CLOCK_SKEW),
                pick=lambda step: step.found.get(key),
                next_lookup=lambda step: step.next,
            ),
        )


CREATE_ARGS = frozenset({"images", "metadata", "repo_id", "model", "agent_type", "idempotency_key"})


def check_create_args(kwargs: Mapping[str, Any]) -> None:
    unknown = set(kwargs) - CREATE_ARGS
    if unknown:
        raise ConfigurationError(f"unknown create argument(s): {sorted(unknown)}")


# -- keyed follow-ups -------------------------------------------------------------------------


def resume_marker(key: str) -> str:
    """The line a keyed resume puts first in its prompt, found again in the run's log."""
    return f"[codegen-graph follow-up {key}]"


def _mentions(entry: Any, marker: str) -> bool:
    for value in (entry.thought, entry.observation, entry.tool_input, entry.tool_output):
        if value is not None and marker in (value if isinstance(value, str) else str(value)):
            return True
    return False


@dataclass(frozen=True)
class LogScanStep:
    """One page of a run's log, newest first: the run if the marker is there, and the next
    page to read (``None``: the marker was found, or the log was read to its start)."""

    found: AgentRunResponse | None
    next: RequestSpec[LogScanStep] | None


def log_scan(org: int, run_id: int, marker: str, skip: int = 0) -> RequestSpec[LogScanStep]:
    """One page (newest first) of the scan of a run's log for ``marker``."""

    def parse(data: Any) -> LogScanStep:
        page = AgentRunWithLogsResponse.model_validate(data)
        if any(_mentions(entry, marker) for entry in page.logs):
            fields = ("id", "organization_id", "status", "created_at", "web_url", "result")
            run = AgentRunResponse(**{f: getattr(page, f) for f in fields}, metadata=page.metadata)
            return LogScanStep(run, None)
        following = next_skip(skip, len(page.logs), page.total_logs, PAGE)
        nxt = None if following is None else log_scan(org, run_id, marker, following)
        return LogScanStep(None, nxt)

    spec = run_logs(org, run_id, skip, PAGE, reverse=True)
    return RequestSpec(spec.method, spec.path, parse=parse, params=spec.params)


def resume(
    org: int, agent_run_id: int, prompt: str, images: Sequence[str] | None, key: str | None
) -> RequestSpec[AgentRunResponse]:
    """``POST .../agent/run/resume``; with a key, the prompt carries its marker (first, as a
    paragraph of its own: agents read a follow-up's last paragraph as the request), and a
    lost response is looked for in the run's log before any retry."""
    check_id("agent_run_id", agent_run_id)
    check_text("prompt", prompt)
    if key is not None:
        prompt = f"{resume_marker(check_text('idempotency_key', key))}\n\n{prompt}"
    body = build_input(
        ResumeAgentRunInput,
        agent_run_id=agent_run_id,
        prompt=prompt,
        images=list(images) if images is not None else None,
    )
    recovery: Recovery[AgentRunResponse] | None = None
    if key is not None:
        recovery = Recovery(
            lookup=log_scan(org, agent_run_id, resume_marker(key)),
            pick=lambda step: step.found,
            next_lookup=lambda step: step.next,
        )
    return RequestSpec(
        "POST",
        f"{_org(org)}/run/resume",
        parse=AgentRunResponse.model_validate,
        json=body.model_dump(mode="json", exclude_none=True),
        idempotent=False,
        recovery=recovery,
    )
