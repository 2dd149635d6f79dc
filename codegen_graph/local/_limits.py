"""Route names, rate limits, fault injection and request statistics for the local backend.

All windows and delays are in simulated seconds on the backend's clock, so one
``time_scale`` speeds up run durations, rate windows, storms and latency together.
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "ROUTES",
    "Faults",
    "LocalRateLimiter",
    "RateLimit",
    "RateLimits",
    "RouteFaults",
    "Stats",
    "classify",
]

_ORG = r"/v1/organizations/(?P<org>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(_ORG + r"/agent/run"), "create"),
    ("POST", re.compile(_ORG + r"/agent/run/resume"), "resume"),
    ("POST", re.compile(_ORG + r"/agent/run/ban"), "ban"),
    ("POST", re.compile(_ORG + r"/agent/run/unban"), "unban"),
    ("POST", re.compile(_ORG + r"/agent/run/remove-from-pr"), "remove_from_pr"),
    ("GET", re.compile(_ORG + r"/agent/run/[^/]+"), "get"),
    ("GET", re.compile(_ORG + r"/agent/runs"), "list"),
    ("GET", re.compile(r"/v1/alpha/organizations/(?P<org>[^/]+)/agent/run/[^/]+/logs"), "logs"),
    ("GET", re.compile(r"/v1/organizations"), "organizations"),
    ("GET", re.compile(r"/v1/users/me"), "me"),
    ("GET", re.compile(_ORG + r"/users"), "users"),
    ("GET", re.compile(_ORG + r"/users/[^/]+"), "user"),
    ("GET", re.compile(_ORG + r"/repos"), "repos"),
    ("GET", re.compile(_ORG + r"/repos/check-suite-settings"), "check_suite_settings"),
    ("PUT", re.compile(_ORG + r"/repos/check-suite-settings"), "update_check_suite_settings"),
    ("PATCH", re.compile(_ORG + r"/prs/[^/]+"), "edit_pr"),
    ("PATCH", re.compile(_ORG + r"/repos/[^/]+/prs/[^/]+"), "edit_repo_pr"),
    ("GET", re.compile(_ORG + r"/integrations"), "integrations"),
    ("POST", re.compile(_ORG + r"/setup-commands/generate"), "setup_commands"),
    ("GET", re.compile(r"/v1/mcp-providers"), "mcp_providers"),
    ("GET", re.compile(r"/v1/oauth/tokens/status"), "oauth_status"),
    ("POST", re.compile(r"/v1/oauth/tokens/revoke"), "oauth_revoke"),
    ("POST", re.compile(_ORG + r"/sandbox/[^/]+/analyze-logs"), "analyze_logs"),
    ("GET", re.compile(_ORG + r"/cli/rules"), "cli_rules"),
    ("POST", re.compile(r"/v1/slack-connect/generate-token"), "slack_token"),
]


def classify(method: str, path: str) -> tuple[str, str | None] | None:
    """The route name and raw ``org_id`` of a request, or ``None`` outside the API."""
    for m, pattern, name in _ROUTES:
        if m == method:
            match = pattern.fullmatch(path)
            if match:
                return name, match.groupdict().get("org")
    return None


#: Every route name, in the order above.
ROUTES = tuple(name for _, _, name in _ROUTES)
#: The routes whose own limit the spec documents, by limit group (the rest: ``standard``).
_GROUPS = {"create": "create", "logs": "logs", "setup_commands": "agents", "analyze_logs": "agents"}
_GROUPS |= dict.fromkeys(("edit_pr", "edit_repo_pr", "cli_rules"), "edits")


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per sliding ``window`` simulated seconds, per token."""

    requests: int
    window: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window <= 0:
            raise ValueError("RateLimit needs requests >= 1 and window > 0")


@dataclass(frozen=True)
class RateLimits:
    """The documented limits: create 10/60 s, logs 60/60 s, setup-commands generation and
    sandbox log analysis (``agents``) 5/60 s, pull request edits and CLI rules (``edits``)
    30/60 s, everything else 60/30 s.

    Set a group to ``None`` to leave it unlimited.
    """

    create: RateLimit | None = RateLimit(10, 60.0)
    standard: RateLimit | None = RateLimit(60, 30.0)
    logs: RateLimit | None = RateLimit(60, 60.0)
    agents: RateLimit | None = RateLimit(5, 60.0)
    edits: RateLimit | None = RateLimit(30, 60.0)

    def for_route(self, route: str) -> tuple[str, RateLimit | None]:
        """The limit group of a route and its limit."""
        group = _GROUPS.get(route, "standard")
        limit: RateLimit | None = getattr(self, group)
        return group, limit


class LocalRateLimiter:
    """Sliding-window counters keyed by (token hash, group)."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str, route: str, now: float) -> float | None:
        """Count a request; return ``None`` if allowed, else the seconds until it would be."""
        group, limit = self.limits.for_route(route)
        if limit is None:
            return None
        with self._lock:
            hits = self._hits[(key, group)]
            while hits and hits[0] <= now - limit.window:
                hits.popleft()
            if len(hits) >= limit.requests:
                return hits[0] + limit.window - now
            hits.append(now)
        return None


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` as whole simulated seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


@dataclass(frozen=True)
class RouteFaults:
    """Faults for one route (or ``"*"``, every route without its own entry).

    Attributes:
        error_rate: share of requests answered with ``error_status`` (a 5xx).
        error_status: the status of injected errors.
        latency: simulated seconds added before a request is handled.
        latency_rate: share of requests that get the ``latency`` (``1.0``: every request;
            lower values make it a latency *spike*).
        drop_rate: share of requests processed, then answered by a dropped connection.
        timeout_rate: share of requests processed, then never answered (accept-then-timeout;
            in process the client gets ``httpx.ReadTimeout``).
        storms: ``(start, duration)`` windows, in simulated seconds since the backend
            started, during which every request is answered 429.
    """

    error_rate: float = 0.0
    error_status: int = 503
    latency: float = 0.0
    latency_rate: float = 1.0
    drop_rate: float = 0.0
    timeout_rate: float = 0.0
    storms: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("error_rate", "latency_rate", "drop_rate", "timeout_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"RouteFaults.{name} must be in [0, 1]")
        if not 500 <= self.error_status <= 599:
            raise ValueError("RouteFaults.error_status must be a 5xx status")
        if self.latency < 0:
            raise ValueError("RouteFaults.latency must be >= 0")

    def storm_left(self, since_start: float) -> float | None:
        """Seconds left in the storm covering ``since_start``, or ``None``."""
        for start, duration in self.storms:
            if start <= since_start < start + duration:
                return start + duration - since_start
        return None


@dataclass(frozen=True)
class Faults:
    """Fault injection per route, reproducible from ``seed``.

    Route names: :data:`ROUTES` (``create``, ``get``, ``list``, ``resume``, ``logs``, ...),
    and ``"*"`` for every route without its own entry.

    Attributes:
        routes: route name -> :class:`RouteFaults`.
        seed: seeds the random draws (same requests, same faults).
        timeout_hold: over a real server, simulated seconds a timed-out response is withheld
            before the connection is dropped.
    """

    routes: Mapping[str, RouteFaults] = field(default_factory=dict)
    seed: int = 0
    timeout_hold: float = 600.0

    def __post_init__(self) -> None:
        unknown = set(self.routes) - {*ROUTES, "*"}
        if unknown:
            raise ValueError(
                f"unknown fault routes {sorted(unknown)}; use {', '.join(ROUTES)} or '*'"
            )

    def for_route(self, route: str) -> RouteFaults | None:
        """The faults that apply to ``route``."""
        return self.routes.get(route, self.routes.get("*"))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Faults:
        """Build from JSON-like data.

        Examples:
            >>> Faults.from_dict({"seed": 1, "create": {"timeout_rate": 0.5}}).seed
            1
        """
        if not isinstance(doc, Mapping):
            raise ValueError("faults must be a JSON object of route -> settings")
        doc = dict(doc)
        seed = int(doc.pop("seed", 0))
        hold = float(doc.pop("timeout_hold", 600.0))
        raw_routes = doc.pop("routes", None)
        if raw_routes is None:
            raw_routes = doc
        elif doc:
            raise ValueError(f"unknown fault keys {sorted(doc)}")
        known = {f.name for f in fields(RouteFaults)}
        routes: dict[str, RouteFaults] = {}
        for name, settings in raw_routes.items():
            if not isinstance(settings, Mapping) or set(settings) - known:
                raise ValueError(f"faults[{name!r}] takes only {sorted(known)}")
            kw = dict(settings)
            if "storms" in kw:
                kw["storms"] = tuple((float(s), float(d)) for s, d in kw["storms"])
            routes[name] = RouteFaults(**kw)
        return cls(routes=routes, seed=seed, timeout_hold=hold)


class FaultDice:
    """Seeded random draws for fault decisions (one stream, thread-safe)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate


class Stats:
    """Per-route counters of one backend process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, int] = defaultdict(int)
        self.responses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.rate_limited: dict[str, int] = defaultdict(int)
        self.faults: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.runs_created = 0
        self.runs_resumed = 0

    def request(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1

    def response(self, route: str, status: int) -> None:
        with self._lock:
            self.responses[route][str(status)] += 1
            if status == 429:
                self.rate_limited[route] += 1

    def fault(self, route: str, kind: str) -> None:
        with self._lock:
            self.faults[route][kind] += 1

    def run_created(self) -> None:
        with self._lock:
            self.runs_created += 1

    def run_resumed(self) -> None:
        with self._lock:
            self.runs_resumed += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "responses": {r: dict(c) for r, c in self.responses.items()},
                "rate_limited": dict(self.rate_limited),
                "faults": {r: dict(c) for r, c in self.faults.items()},
                "runs_created": self.runs_created,
                "runs_resumed": self.runs_resumed,
            }
