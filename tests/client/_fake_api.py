"""A small, spec-faithful Codegen API as an ``httpx.MockTransport`` handler.

Paths, query bounds, bodies and error shapes follow the official OpenAPI spec; statuses are
the real API's uppercase ones. Every request is recorded (with the clock's time), and faults
can be queued: an error status, or an httpx exception raised before or *after* the server
processed the request (the lost-response case).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from codegen_graph.clock import Clock, ManualClock

TOKEN = "test-token-0123456789"
ORG_ID = 7


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: httpx.Headers
    at: float


@dataclass
class Fault:
    method: str | None
    path_re: str | None
    response: httpx.Response | None = None
    exc: type[httpx.HTTPError] | None = None
    after_processing: bool = False
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_re is None or re.search(self.path_re, path) is not None
        )


def _err(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message, "status_code": status})


def _page(items: list[Any], skip: int, limit: int) -> dict[str, Any]:
    return {
        "items": items[skip : skip + limit],
        "total": len(items),
        "page": skip // limit + 1,
        "size": limit,
        "pages": max(1, math.ceil(len(items) / limit)),
    }


@dataclass
class FakeCodegenAPI:
    clock: Clock = field(default_factory=ManualClock)
    org_id: int = ORG_ID
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    logs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    users: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": i, "github_user_id": str(100 + i), "github_username": f"dev{i}"}
            for i in (1, 2, 3)
        ]
    )
    repos: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": 11,
                "name": "app",
                "full_name": "acme/app",
                "description": None,
                "github_id": "9001",
                "organization_id": ORG_ID,
                "visibility": "private",
                "archived": False,
                "setup_status": "COMPLETE",
                "language": "Python",
            }
        ]
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test controls ----------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail(
        self,
        status: int,
        *,
        json_body: Any = None,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next matching request(s) with this error instead."""
        if text is not None:
            response = httpx.Response(status, text=text, headers=headers)
        else:
            body = (
                json_body if json_body is not None else {"message": "boom", "status_code": status}
            )
            response = httpx.Response(status, json=body, headers=headers)
        self.faults.append(Fault(method, path, response=response, times=times))

    def drop(
        self,
        exc: type[httpx.HTTPError],
        *,
        after_processing: bool,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Raise ``exc`` for the next matching request(s), before or after processing it."""
        self.faults.append(
            Fault(method, path, exc=exc, after_processing=after_processing, times=times)
        )

    def add_run(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            run_id = max(self.runs, default=100) + 1
            run = {
                "id": run_id,
                "organization_id": self.org_id,
                "status": "RUNNING",
                "created_at": f"2025-01-01T00:00:{run_id % 60:02d}Z",
                "web_url": f"https://codegen.com/agent/trace/{run_id}",
                "source_type": "API",
                "metadata": None,
                **fields,
            }
            self.runs[run_id] = run
            self.logs[run_id] = [
                {"agent_run_id": run_id, "message_type": "ACTION", "thought": f"step {i}"}
                for i in range(5)
            ]
            return run

    def count(self, method: str, path_re: str) -> int:
        return sum(1 for r in self.requests if r.method == method and re.search(path_re, r.path))

    # -- the handler ------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        self.requests.append(
            Recorded(
                request.method,
                path,
                dict(request.url.params),
                body,
                request.headers,
                self.clock.now(),
            )
        )
        fault = self._take_fault(request.method, path)
        if fault is not None and fault.response is not None:
            return fault.response
        if fault is not None and fault.exc is not None and not fault.after_processing:
            raise fault.exc("injected before processing", request=request)
        response = self._route(request, path, body)
        if fault is not None and fault.exc is not None:
            raise fault.exc("injected after processing", request=request)
        return response

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _route(self, request: httpx.Request, path: str, body: Any) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _err(401, "Invalid or expired token.")
        params = request.url.params
        try:
            skip = int(params.get("skip", 0))
            limit = int(params.get("limit", 100))
        except ValueError:
            return self._invalid(["query", "limit"], "Input should be a valid integer")
        if skip < 0 or not 1 <= limit <= 100:
            return self._invalid(["query", "limit"], "Input should be between 1 and 100")
        if path == "/v1/organizations":
            org = {"id": self.org_id, "name": "Acme", "settings": {"enable_pr_creation": True}}
            return httpx.Response(200, json=_page([org], skip, limit))
        if path == "/v1/users/me":
            return httpx.Response(200, json=self.users[0])
        m = re.fullmatch(r"/v1(/alpha)?/organizations/(\d+)(/.*)", path)
        if m is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        if int(m.group(2)) != self.org_id:
            return _err(403, "You do not have access to this organization.")
        return self._org_route(
            request.method, m.group(1) is not None, m.group(3), body, skip, limit, params
        )

    def _invalid(self, loc: list[Any], msg: str) -> httpx.Response:
        return httpx.Response(
            422, json={"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}
        )

    def _org_route(
        self, method: str, alpha: bool, rest: str, body: Any, skip: int, limit: int, params: Any
    ) -> httpx.Response:
        routes: list[tuple[str, str, Callable[..., httpx.Response]]] = [
            ("GET", r"/users", lambda: httpx.Response(200, json=_page(self.users, skip, limit))),
            ("GET", r"/users/(\d+)", self._get_user),
            ("GET", r"/repos", lambda: httpx.Response(200, json=_page(self.repos, skip, limit))),
            ("POST", r"/agent/run", lambda: self._create(body)),
            ("GET", r"/agent/run/(\d+)", self._get_run),
            ("GET", r"/agent/runs", lambda: self._list_runs(skip, limit, params)),
            ("POST", r"/agent/run/resume", lambda: self._resume(body)),
            ("POST", r"/agent/run/(?:ban|unban|remove-from-pr)", lambda: self._stop(body)),
        ]
        if alpha:
            m = re.fullmatch(r"/agent/run/(\d+)/logs", rest)
            if method == "GET" and m:
                return self._logs(int(m.group(1)), skip, limit, params.get("reverse") == "true")
            return httpx.Response(404, json={"detail": "Not Found"})
        for verb, pattern, fn in routes:
            m = re.fullmatch(pattern, rest)
            if m and verb == method:
                return fn(*(int(g) for g in m.groups()))
        return httpx.Response(404, json={"detail": "Not Found"})

    def _get_user(self, user_id: int) -> httpx.Response:
        for user in self.users:
            if user["id"] == user_id:
                return httpx.Response(200, json=user)
        return _err(404, "User not found.")

    def _create(self, body: Any) -> httpx.Response:
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
            return self._invalid(["body", "prompt"], "Field required")
        run = self.add_run(metadata=body.get("metadata"), status="PENDING")
        return httpx.Response(200, json=run)

    def _get_run(self, run_id: int) -> httpx.Response:
        run = self.runs.get(run_id)
        return httpx.Response(200, json=run) if run else _err(404, "Agent run not found.")

    def _list_runs(self, skip: int, limit: int, params: Any) -> httpx.Response:
        runs = sorted(self.runs.values(), key=lambda r: r["id"], reverse=True)
        if "source_type" in params:
            runs = [r for r in runs if r["source_type"] == params["source_type"]]
        if "user_id" in params:
            runs = [r for r in runs if r.get("user_id") == int(params["user_id"])]
        return httpx.Response(200, json=_page(runs, skip, limit))

    def _resume(self, body: Any) -> httpx.Response:
        run = self.runs.get(body.get("agent_run_id", 0))
        if run is None:
            return _err(404, "Agent run not found.")
        run["status"] = "RUNNING"
        return httpx.Response(200, json=run)

    def _stop(self, body: Any) -> httpx.Response:
        if body.get("agent_run_id") not in self.runs:
            return _err(404, "Agent run not found.")
        return httpx.Response(200, json={})

    def _logs(self, run_id: int, skip: int, limit: int, reverse: bool) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return _err(404, "Agent run not found.")
        entries = list(reversed(self.logs[run_id])) if reverse else self.logs[run_id]
        page = _page(entries, skip, limit)
        return httpx.Response(
            200,
            json={
                **run,
                "logs": page["items"],
                "total_logs": len(entries),
                "page": page["page"],
                "size": limit,
                "pages": page["pages"],
            },
        )
