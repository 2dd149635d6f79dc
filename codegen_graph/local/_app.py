"""The FastAPI application: the Codegen API's paths, parameters, status codes and bodies.

Authentication, organization access, rate limits and fault injection live in :class:`_Gate`,
a plain ASGI middleware in front of FastAPI, so they apply before request validation (as a
gateway in front of the real API would) and are counted per route for ``/_local/stats``.

Organization access is checked twice, on the id that is acted on: the gate accepts only the
canonical spelling of an organization id (``42``; not ``+42``, ``%2042``, ``42.0`` or
``042``, which FastAPI would otherwise coerce) and answers 403 for another organization;
every org-scoped route then compares the parsed ``org_id`` with the token's organization
again. State changes of one run (resume, ban, unban, remove-from-pr) are serialised by
:meth:`Store.run_for_update`, so concurrent ones are all applied.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._org_models import (
    AnalyzeLogsResponse,
    CheckSuiteSettingsRequest,
    CheckSuiteSettingsResponse,
    EditPRInput,
    EditPRResponse,
    GenerateSetupCommandsInput,
    GenerateTokenRequest,
    OrganizationIntegrationsResponse,
    SetupCommandsResponse,
)
from ..clock import Clock
from ..models import (
    AgentRunLogResponse,
    AgentRunResponse,
    AgentRunWithLogsResponse,
    OrganizationResponse,
    OrganizationSettings,
    Page,
    RepoResponse,
    SourceType,
    UserResponse,
)
from ._engine import Engine
from ._limits import FaultDice, Faults, LocalRateLimiter, Stats, classify, retry_after_header
from ._org import OrgData
from ._pages import add_pages
from ._store import Identity, Store, token_hash

__all__ = ["MAX_PROMPT_CHARS", "BackendState", "build_app"]

MAX_PROMPT_CHARS = 100_000
"""Longest prompt accepted (create and resume); longer prompts get a 422."""

TRANSPORT_HEADER = "x-codegen-graph-local-transport"
FAULT_HEADER = "x-codegen-graph-local-fault"

_MSG_RATE = "Rate limit exceeded. Please try again later."
_MSG_QUOTA = (
    "Alloted agent runs for the current billing plan have been reached. "
    "Please upgrade your plan to continue."
)
_MSG_FORBIDDEN = "You do not have access to this organization."
_MSG_RUN_404 = "Agent run not found."
_MSG_USER_404 = "User not found."
_MSG_REPO_404 = "No repos found in the organization. Please add some repos and try again."

#: An organization id as the API writes it: no sign, no padding, no spaces, no fraction.
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,17}")


@dataclass
class BackendState:
    """Everything the app reads; built by :class:`~codegen_graph.local.LocalCodegen`."""

    engine: Engine
    store: Store
    clock: Clock
    stats: Stats
    limiter: LocalRateLimiter | None = None
    faults: Faults | None = None
    quota: int | None = None
    started_at: float = 0.0
    dice: FaultDice = field(default_factory=lambda: FaultDice(0))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "status_code": status}, status, headers=headers)


def _invalid_org(raw: str) -> JSONResponse:
    """422 for an organization id that is not written canonically (FastAPI's shape)."""
    detail = {
        "type": "int_parsing",
        "loc": ["path", "org_id"],
        "msg": "Input should be a positive integer written with digits only",
        "input": raw[:100],
    }
    return JSONResponse({"detail": [detail]}, 422)


class _OtherOrg(Exception):
    """A route was asked to act on another organization than the token's."""


class _Gate:
    """Auth, org access, storms, rate limits and faults, in that order."""

    def __init__(self, app: ASGIApp, state: BackendState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = classify(scope["method"], scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        route, raw_org = found
        st = self.state
        st.stats.request(route)

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                st.stats.response(route, int(message["status"]))
            await send(message)

        early = self._admit(scope, route, raw_org)
        if early is not None:
            await early(scope, receive, counted_send)
            return
        rf = st.faults.for_route(route) if st.faults else None
        if (
            rf is not None
            and rf.latency > 0
            # rate 1.0 draws nothing, so adding latency_rate kept every seeded sequence
            and (rf.latency_rate >= 1 or st.dice.roll(rf.latency_rate))
        ):
            st.stats.fault(route, "latency")
            await st.clock.asleep(rf.latency)
        if rf is not None and st.dice.roll(rf.error_rate):
            st.stats.fault(route, "error")
            await _error(rf.error_status, "Injected fault: internal server error.")(
                scope, receive, counted_send
            )
            return
        lost = None
        if rf is not None and st.dice.roll(rf.drop_rate):
            lost = "drop"
        elif rf is not None and st.dice.roll(rf.timeout_rate):
            lost = "timeout"
        if lost is None:
            await self.app(scope, receive, counted_send)
            return
        st.stats.fault(route, lost)
        await self._lose(scope, receive, send, lost)

    def _admit(self, scope: Scope, route: str, raw_org: str | None) -> ASGIApp | None:
        """Return an error response for a request that may not proceed, else ``None``."""
        st = self.state
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1").strip()
        scheme, _, token = auth.partition(" ")
        if not auth or scheme.lower() != "bearer" or not token.strip():
            return _error(
                401, "Not authenticated: send the header 'Authorization: Bearer <token>'."
            )
        token, now = token.strip(), st.clock.now()
        identity = st.store.identity(token, now)
        if identity is None:
            return _error(401, "Invalid or expired API token.")
        scope.setdefault("state", {})["identity"] = identity
        if raw_org is not None:
            if not _CANONICAL_ID.fullmatch(raw_org):
                return _invalid_org(raw_org)
            if int(raw_org) != identity.org_id:
                return _error(403, _MSG_FORBIDDEN)
        rf = st.faults.for_route(route) if st.faults else None
        storm = rf.storm_left(now - st.started_at) if rf else None
        if storm is not None:
            st.stats.fault(route, "storm")
            return _error(429, _MSG_RATE, {"Retry-After": retry_after_header(storm)})
        if st.limiter is not None:
            wait = st.limiter.check(token_hash(token), route, now)
            if wait is not None:
                return _error(429, _MSG_RATE, {"Retry-After": retry_after_header(wait)})
        return None

    async def _lose(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        """Process the request, then lose the response (drop or time out)."""
        started: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(message)

        await self.app(scope, receive, capture)
        status = int(started[0]["status"]) if started else 200
        in_process = any(k == TRANSPORT_HEADER.encode() for k, _ in scope["headers"])
        if in_process:
            # Our httpx transports turn this marker into RemoteProtocolError / ReadTimeout.
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(FAULT_HEADER.encode(), kind.encode())],
                }
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if kind == "timeout" and self.state.faults is not None:
            await self.state.clock.asleep(self.state.faults.timeout_hold)
        # Announce a body and never send it: uvicorn closes the connection mid-response.
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )


class _CreateBody(BaseModel):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    images: list[str] | None = None
    metadata: dict[str, Any] | None = None
    repo_id: int | None = None
    model: str | None = None
    agent_type: Literal["codegen", "claude_code"] | None = None


class _ResumeBody(BaseModel):
    agent_run_id: int
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    images: list[str] | None = None


class _StopBody(BaseModel):
    agent_run_id: int
    before_card_order_id: str | None = None
    after_card_order_id: str | None = None


_IGNORE_EXTRA = ConfigDict(extra="ignore")  # as FastAPI's default, unlike the client's models


class _SettingsBody(CheckSuiteSettingsRequest):
    model_config = _IGNORE_EXTRA


class _EditBody(EditPRInput):
    model_config = _IGNORE_EXTRA


class _SetupBody(GenerateSetupCommandsInput):
    model_config = _IGNORE_EXTRA
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)


class _TokenBody(GenerateTokenRequest):
    model_config = _IGNORE_EXTRA


def _no_repo(repo_id: int) -> JSONResponse:
    """422 for a ``repo_id`` query parameter naming no repository of the organization."""
    msg = f"No repository {repo_id} in this organization"
    detail = {"type": "value_error", "loc": ["query", "repo_id"], "msg": msg, "input": repo_id}
    return JSONResponse({"detail": [detail]}, 422)


def _page(items: list[Any], total: int, skip: int, limit: int) -> dict[str, Any]:
    return {
        "items": items,
        "total": total,
        "page": skip // limit + 1,
        "size": limit,
        "pages": math.ceil(total / limit),
    }


def _dump(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    return model.model_validate(data).model_dump(mode="json")


def _user(user_id: int) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"dev{user_id}@localhost",
        "github_user_id": str(100_000 + user_id),
        "github_username": f"local-dev-{user_id}",
        "avatar_url": None,
        "full_name": f"Local Developer {user_id}",
        "role": "ADMIN",
        "is_admin": True,
    }


def build_app(state: BackendState) -> ASGIApp:
    """Build the ASGI app serving the Codegen API over ``state``."""
    api = FastAPI(title="codegen-graph local Codegen API", docs_url=None, redoc_url=None)
    engine, store = state.engine, state.store
    org = OrgData(engine)

    def who(request: Request) -> Identity:
        identity: Identity = request.state.identity
        return identity

    def mine(request: Request, org_id: int) -> int:
        """``org_id`` as parsed, if it is the token's organization (else a 403)."""
        if who(request).org_id != org_id:
            raise _OtherOrg
        return org_id

    @api.exception_handler(_OtherOrg)
    def other_org(request: Request, exc: _OtherOrg) -> JSONResponse:
        return _error(403, _MSG_FORBIDDEN)

    def load(org_id: int, run_id: int) -> dict[str, Any] | None:
        run = store.get_run(run_id)
        return run if run is not None and run["org_id"] == org_id else None

    @api.post("/v1/organizations/{org_id}/agent/run")
    def create(request: Request, org_id: int, body: _CreateBody) -> JSONResponse:
        me = who(request)
        org_id = mine(request, org_id)
        if state.quota is not None and store.count_runs(org_id) >= state.quota:
            return _error(402, _MSG_QUOTA)
        if body.repo_id is not None and org.repo(org_id, body.repo_id) is None:
            return _error(404, _MSG_REPO_404)
        view = engine.create(
            org_id=org_id,
            user_id=me.user_id,
            prompt=body.prompt,
            metadata=body.metadata,
            repo_id=body.repo_id,
            model=body.model,
            agent_type=body.agent_type,
            images=body.images,
        )
        state.stats.run_created()
        return JSONResponse(_dump(AgentRunResponse, view))

    @api.get("/v1/organizations/{org_id}/agent/run/{agent_run_id}")
    def get_run(request: Request, org_id: int, agent_run_id: int) -> JSONResponse:
        run = load(mine(request, org_id), agent_run_id)
        if run is None:
            return _error(404, _MSG_RUN_404)
        return JSONResponse(_dump(AgentRunResponse, engine.view(run)))

    @api.get("/v1/organizations/{org_id}/agent/runs")
    def list_runs(
        request: Request,
        org_id: int,
        user_id: int | None = None,
        source_type: SourceType | None = None,
        skip: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=100),
    ) -> JSONResponse:
        runs, total = store.list_runs(
            mine(request, org_id),
            user_id=user_id,
            source_type=source_type.value if source_type else None,
            skip=skip,
            limit=limit,
        )
        now = state.clock.now()
        items = [engine.view(r, now) for r in runs]
        return JSONResponse(_dump(Page[AgentRunResponse], _page(items, total, skip, limit)))

    @api.post("/v1/organizations/{org_id}/agent/run/resume")
    def resume(request: Request, org_id: int, body: _ResumeBody) -> JSONResponse:
        org_id = mine(request, org_id)
        with store.run_for_update(body.agent_run_id) as run:
            if run is None or run["org_id"] != org_id:
                return _error(404, _MSG_RUN_404)
            view = engine.resume(run, body.prompt)
        state.stats.run_resumed()
        return JSONResponse(_dump(AgentRunResponse, view))

    def _stop_route(path: str, action: str) -> None:
        @api.post(path, name=action)
        def stop(request: Request, org_id: int, body: _StopBody) -> JSONResponse:
            org_id = mine(request, org_id)
            with store.run_for_update(body.agent_run_id) as run:
                if run is None or run["org_id"] != org_id:
                    return _error(404, _MSG_RUN_404)
                if action == "ban":
                    engine.stop(run, "All checks banned for this PR; the agent was stopped.")
            return JSONResponse({"message": f"{action} applied", "agent_run_id": run["id"]})

    _stop_route("/v1/organizations/{org_id}/agent/run/ban", "ban")
    _stop_route("/v1/organizations/{org_id}/agent/run/unban", "unban")
    _stop_route("/v1/organizations/{org_id}/agent/run/remove-from-pr", "remove_from_pr")

    @api.get("/v1/alpha/organizations/{org_id}/agent/run/{agent_run_id}/logs")
    def logs(
        request: Request,
        org_id: int,
        agent_run_id: int,
        skip: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=100),
        reverse: bool = False,
    ) -> JSONResponse:
        run = load(mine(request, org_id), agent_run_id)
        if run is None:
            return _error(404, _MSG_RUN_404)
        now = state.clock.now()
        view, entries = engine.view(run, now), engine.logs(run, now)
        if reverse:
            entries.reverse()
        body = {
            **{k: view[k] for k in ("id", "organization_id", "status", "created_at", "web_url")},
            "result": view["result"],
            "metadata": view["metadata"],
            "logs": [_dump(AgentRunLogResponse, e) for e in entries[skip : skip + limit]],
            "total_logs": len(entries),
            "page": skip // limit + 1,
            "size": limit,
            "pages": math.ceil(len(entries) / limit),
        }
        return JSONResponse(_dump(AgentRunWithLogsResponse, body))

    @api.get("/v1/organizations")
    def organizations(
        request: Request, skip: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=100)
    ) -> JSONResponse:
        me = who(request)
        org = OrganizationResponse(
            id=me.org_id, name=f"Local Org {me.org_id}", settings=OrganizationSettings()
        ).model_dump(mode="json")
        return JSONResponse(
            _dump(Page[OrganizationResponse], _page([org][skip : skip + limit], 1, skip, limit))
        )

    @api.get("/v1/users/me")
    def users_me(request: Request) -> JSONResponse:
        return JSONResponse(_dump(UserResponse, _user(who(request).user_id)))

    @api.get("/v1/organizations/{org_id}/users")
    def users(
        request: Request,
        org_id: int,
        skip: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=100),
    ) -> JSONResponse:
        ids = store.users(mine(request, org_id))
        items = [_user(u) for u in ids[skip : skip + limit]]
        return JSONResponse(_dump(Page[UserResponse], _page(items, len(ids), skip, limit)))

    @api.get("/v1/organizations/{org_id}/users/{user_id}")
    def user(request: Request, org_id: int, user_id: int) -> JSONResponse:
        if user_id not in store.users(mine(request, org_id)):
            return _error(404, _MSG_USER_404)
        return JSONResponse(_dump(UserResponse, _user(user_id)))

    @api.get("/v1/organizations/{org_id}/repos")
    def repos(
        request: Request,
        org_id: int,
        skip: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=100),
    ) -> JSONResponse:
        all_repos = org.repos(mine(request, org_id))
        items = all_repos[skip : skip + limit]
        return JSONResponse(_dump(Page[RepoResponse], _page(items, len(all_repos), skip, limit)))

    @api.get("/v1/organizations/{org_id}/repos/check-suite-settings")
    def get_settings(request: Request, org_id: int, repo_id: int) -> JSONResponse:
        if org.repo(mine(request, org_id), repo_id) is None:
            return _no_repo(repo_id)
        return JSONResponse(_dump(CheckSuiteSettingsResponse, org.settings(org_id, repo_id)))

    @api.put("/v1/organizations/{org_id}/repos/check-suite-settings")
    def put_settings(
        request: Request, org_id: int, repo_id: int, body: _SettingsBody
    ) -> JSONResponse:
        if org.repo(mine(request, org_id), repo_id) is None:
            return _no_repo(repo_id)
        return JSONResponse(org.settings(org_id, repo_id, body.model_dump(mode="json")))

    @api.patch("/v1/organizations/{org_id}/prs/{pr_id}")
    def patch_pr(request: Request, org_id: int, pr_id: int, body: _EditBody) -> JSONResponse:
        edited = org.edit_pr(mine(request, org_id), pr_id, body.state, None)
        return JSONResponse(_dump(EditPRResponse, edited))

    @api.patch("/v1/organizations/{org_id}/repos/{repo_id}/prs/{pr_id}")
    def patch_repo_pr(
        request: Request, org_id: int, repo_id: int, pr_id: int, body: _EditBody
    ) -> JSONResponse:
        edited = org.edit_pr(mine(request, org_id), pr_id, body.state, repo_id)
        return JSONResponse(_dump(EditPRResponse, edited))

    @api.get("/v1/organizations/{org_id}/integrations")
    def get_integrations(request: Request, org_id: int) -> JSONResponse:
        found = org.integrations(mine(request, org_id))
        return JSONResponse(_dump(OrganizationIntegrationsResponse, found))

    @api.post("/v1/organizations/{org_id}/setup-commands/generate")
    def generate_setup(request: Request, org_id: int, body: _SetupBody) -> JSONResponse:
        repository = org.repo(mine(request, org_id), body.repo_id)
        if repository is None:
            return _error(404, "Repository not found.")
        answer = org.generate_setup(who(request), repository, body.prompt)
        return JSONResponse(_dump(SetupCommandsResponse, answer))

    @api.post("/v1/organizations/{org_id}/sandbox/{sandbox_id}/analyze-logs")
    def analyze_logs(request: Request, sandbox_id: int, org_id: int) -> JSONResponse:
        if org.repo(mine(request, org_id), sandbox_id) is None:
            return _error(404, "Sandbox not found.")
        answer = org.analyze_logs(who(request), sandbox_id)
        if answer is None:
            return _error(400, "No logs available for analysis.")
        return JSONResponse(_dump(AnalyzeLogsResponse, answer))

    @api.get("/v1/organizations/{org_id}/cli/rules")
    def cli_rules(request: Request, org_id: int) -> JSONResponse:
        mine(request, org_id)
        return JSONResponse(org.CLI_RULES)

    @api.get("/v1/mcp-providers")
    def mcp_providers(request: Request) -> JSONResponse:
        return JSONResponse(org.mcp_providers())

    @api.get("/v1/oauth/tokens/status")
    def oauth_status(request: Request, org_id: int) -> JSONResponse:
        return JSONResponse(store.oauth_providers(mine(request, org_id), who(request).user_id))

    @api.post("/v1/oauth/tokens/revoke")
    def oauth_revoke(request: Request, provider: str, org_id: int) -> JSONResponse:
        revoked = store.revoke_oauth(mine(request, org_id), who(request).user_id, provider)
        return JSONResponse({"success": True, "provider": provider, "revoked_tokens": revoked})

    @api.post("/v1/slack-connect/generate-token")
    def slack_token(request: Request, body: _TokenBody) -> JSONResponse:
        mine(request, body.org_id)
        message = (
            'Send "Connect my account: <token>" to the Codegen bot in a direct message '
            "within 10 minutes; the token works once."
        )
        token = "slack-connect-" + secrets.token_urlsafe(16)
        return JSONResponse({"token": token, "message": message, "expires_in_minutes": 10})

    add_pages(api, engine)

    @api.get("/_local/stats", include_in_schema=False)
    def stats() -> JSONResponse:
        return JSONResponse(local_stats(state))

    return _Gate(api, state)


def local_stats(state: BackendState) -> dict[str, Any]:
    """The stats document served at ``/_local/stats``."""
    return {
        **state.stats.snapshot(),
        "runs_total": state.store.count_runs(),
        "duplicates": state.store.duplicates(),
    }
