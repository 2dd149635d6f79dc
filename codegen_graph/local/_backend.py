"""``LocalCodegen``: the embedded Codegen API, in process or behind a real server."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from ..clock import Clock, ScaledClock
from ._app import BackendState, build_app, local_stats
from ._behavior import AgentBehavior, ScriptedBehavior
from ._engine import Engine
from ._limits import FaultDice, Faults, LocalRateLimiter, RateLimits, Stats
from ._scenario import Scenario, ScenarioBehavior
from ._store import Store
from ._transport import LocalAsyncTransport, LocalTransport

if TYPE_CHECKING:  # the client layer sits above; imported lazily at call time
    from .. import AsyncCodegenClient, CodegenClient

__all__ = ["LocalCodegen"]


def _new_token() -> str:
    return "cg-local-" + secrets.token_urlsafe(24)


class LocalCodegen:
    """An embedded, spec-faithful Codegen API backed by a deterministic run engine.

    Args:
        token: the API token clients must send (generated when omitted).
        org_id: the organization the token belongs to (generated when omitted; with ``db``
            the stored organization is reused).
        time_scale: simulated seconds per real second; speeds the clock, run durations,
            rate-limit windows, storms and latency together. Ignored when ``clock`` is given.
        clock: the clock to use instead (for example a ``ManualClock`` in tests).
        behavior: what runs do (default :class:`ScriptedBehavior`).
        scenario: a scenario (path, bundled name, dict or :class:`Scenario`) played on top
            of ``behavior``.
        faults: fault injection, a :class:`Faults` or its dict form.
        rate_limits: ``True`` for the documented limits, ``False`` for none, or
            :class:`RateLimits`.
        quota: runs an organization may create before create answers 402 (``None``: no
            limit).
        db: a SQLite file to keep runs, logs and counters in (default: memory).
        base_url: the URL clients use; ``web_url`` and PR URLs are built on it.

    Examples:
        >>> from codegen_graph.clock import ManualClock
        >>> backend = LocalCodegen(clock=ManualClock())
        >>> with backend.httpx_client() as http:
        ...     r = http.post(f"/v1/organizations/{backend.org_id}/agent/run",
        ...                   json={"prompt": "Add a /health endpoint"})
        >>> r.json()["status"]
        'PENDING'
    """

    def __init__(
        self,
        token: str | None = None,
        org_id: int | None = None,
        *,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        behavior: AgentBehavior | None = None,
        scenario: str | Path | Mapping[str, Any] | Scenario | None = None,
        faults: Faults | Mapping[str, Any] | None = None,
        rate_limits: bool | RateLimits = True,
        quota: int | None = None,
        db: str | Path | None = None,
        base_url: str = "http://localhost",
    ) -> None:
        if clock is not None and time_scale != 1.0:
            raise ValueError("pass either clock= or time_scale=, not both")
        if quota is not None and quota < 0:
            raise ValueError("quota must be >= 0 (or None for no limit)")
        self.store = Store(db)
        self._closed = False
        if clock is None:
            # Simulated time never runs backwards across a restart on the same database.
            saved = float(self.store.get_meta("clock_now") or 0.0)
            clock = ScaledClock(time_scale, start=max(time.time(), saved))
        self.clock: Clock = clock
        self.base_url = base_url.rstrip("/")
        agent: AgentBehavior = behavior if behavior is not None else ScriptedBehavior()
        if scenario is not None:
            agent = ScenarioBehavior(scenario, fallback=agent)
        self.behavior = agent
        if isinstance(faults, Mapping):
            faults = Faults.from_dict(faults)
        limits = RateLimits() if rate_limits is True else rate_limits or None
        self._state = BackendState(
            engine=Engine(self.store, self.clock, agent, base_url=self.base_url),
            store=self.store,
            clock=self.clock,
            stats=Stats(),
            limiter=LocalRateLimiter(limits) if limits else None,
            faults=faults,
            quota=quota,
            started_at=self.clock.now(),
            dice=FaultDice(faults.seed if faults else 0),
        )
        self._token, self.org_id, self.user_id = self._identity(token, org_id)
        self.token_generated = token is None
        self.app = build_app(self._state)

    def _identity(self, token: str | None, org_id: int | None) -> tuple[str, int, int]:
        primary = self.store.primary_identity()
        if org_id is None:
            org_id = primary.org_id if primary else 100_000 + secrets.randbelow(900_000)
        token = token or _new_token()
        existing = self.store.identity(token)
        if existing is not None and existing.org_id == org_id:
            user_id = existing.user_id
        elif primary is not None and primary.org_id == org_id:
            user_id = primary.user_id
        else:
            user_id = self.store.max_user_id() + 1
        self.store.add_token(token, user_id, org_id, primary=primary is None)
        return token, org_id, user_id

    @property
    def token(self) -> str:
        """The API token clients send as ``Authorization: Bearer <token>``."""
        return self._token

    def __repr__(self) -> str:
        return f"LocalCodegen(org_id={self.org_id}, clock={self.clock!r}, db={self.store.path!r})"

    def add_token(self, token: str | None = None, *, org_id: int | None = None) -> str:
        """Register another user's token (in ``org_id``, default this backend's org)."""
        token = token or _new_token()
        self.store.add_token(token, self.store.max_user_id() + 1, org_id or self.org_id)
        return token

    def oauth_token(self, provider: str) -> str:
        """A token of this backend's user issued through the OAuth ``provider``: it works like
        :attr:`token` until ``POST /v1/oauth/tokens/revoke`` revokes the provider's tokens."""
        token = _new_token()
        self.store.add_token(token, self.user_id, self.org_id, provider=provider)
        return token

    def issue_token(self, expires_at: float | None = None) -> str:
        """Another token of this backend's user (what a secret manager rotates); from
        ``expires_at`` (epoch seconds on the backend's clock) on, it answers 401 as an
        expired token does on the real API."""
        token = _new_token()
        self.store.add_token(token, self.user_id, self.org_id, expires_at=expires_at)
        return token

    def stats(self) -> dict[str, Any]:
        """Requests, responses, 429s and faults per route; runs created, resumed, total and
        ``duplicates`` (runs sharing a ``codegen_graph_idempotency_key`` metadata value)."""
        return local_stats(self._state)

    # -- transports and clients ---------------------------------------------------------
    def transport(self) -> httpx.BaseTransport:
        """A new sync httpx transport into the app (no sockets)."""
        return LocalTransport(self.app)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """A new async httpx transport into the app (no sockets)."""
        return LocalAsyncTransport(self.app)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def httpx_client(self, **kwargs: Any) -> httpx.Client:
        """A plain ``httpx.Client`` with base URL and auth header set."""
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("headers", self._headers())
        return httpx.Client(transport=self.transport(), **kwargs)

    def async_httpx_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A plain ``httpx.AsyncClient`` with base URL and auth header set."""
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("headers", self._headers())
        return httpx.AsyncClient(transport=self.async_transport(), **kwargs)

    def client(self, org_id: int | None = None, **kwargs: Any) -> CodegenClient:
        """A ready ``codegen_graph.CodegenClient`` wired to this backend (acting on
        ``org_id``, default this backend's: another answers 403, as a served one does)."""
        from .. import CodegenClient

        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("clock", self.clock)
        org = self.org_id if org_id is None else org_id
        return CodegenClient(self._token, org, transport=self.transport(), **kwargs)

    def async_client(self, org_id: int | None = None, **kwargs: Any) -> AsyncCodegenClient:
        """A ready ``codegen_graph.AsyncCodegenClient`` wired to this backend (see
        :meth:`client`)."""
        from .. import AsyncCodegenClient

        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("clock", self.clock)
        org = self.org_id if org_id is None else org_id
        return AsyncCodegenClient(self._token, org, transport=self.async_transport(), **kwargs)

    def name_links(self, text: str) -> str:
        """``text`` with this backend's run and PR URLs replaced by names: used in process,
        nothing serves their pages (``local PR #1 (embedded backend: no page)``)."""

        def name(match: re.Match[str]) -> str:
            what = "PR #" if match[1] == "local/pull" else "run "
            return f"local {what}{match[2]} (embedded backend: no page)"

        pattern = re.escape(self.base_url) + r"/(agent/trace|local/pull)/(\d+)"
        return re.sub(pattern, name, text)

    def close(self) -> None:
        """Save the simulated time and close the database (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.store.set_meta("clock_now", repr(self.clock.now()))
        self.store.close()

    def __enter__(self) -> LocalCodegen:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
