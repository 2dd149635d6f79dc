"""The pages behind the local backend's links: a run's ``web_url`` and a pull request's ``url``.

Small HTML built from the store (no script, no external asset), so the links the CLI and
Studio show open in a browser. A browser sends no token, so the pages answer only clients on
this machine (a loopback address, or the server's own address); anyone else gets a 403.
"""

from __future__ import annotations

import ipaddress
import json
import re
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from ._engine import TERMINAL, Engine, iso

__all__ = ["add_pages"]

#: Tool calls that change the file named by their ``path`` input.
_WRITES = re.compile(r"edit|create|write|delete|move|rename|patch")
_MAX_TEXT = 4000

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{refresh}<style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem}}
ol{{list-style:none;border-left:3px solid #ccc;padding-left:1rem}}li{{margin:.3rem 0}}
time,code{{font-family:monospace;color:#555}}pre{{background:#f3f3f3;padding:.6rem;
white-space:pre-wrap}}.COMPLETE{{color:#176f2c}}.ACTIVE,.PENDING{{color:#8a6d00}}
.FAILED,.ERROR,.CANCELLED,.STOPPED{{color:#b00020}}</style></head>
<body><p><small>codegen-graph local backend</small></p><h1>{title}</h1>{body}</body></html>"""


def _html(title: str, body: str, status: int = 200, refresh: bool = False) -> HTMLResponse:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    page = _PAGE.format(title=escape(title), refresh=meta, body=body)
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return HTMLResponse(page, status, headers={"Content-Security-Policy": csp})


def _cut(text: str) -> str:
    return escape(text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + " [...]")


def _pr_item(pr: dict[str, Any]) -> str:
    title = escape(str(pr.get("title") or "(untitled)"))
    branch = escape(str(pr.get("head_branch_name") or ""))
    return (
        f'<li><a href="/local/pull/{pr["id"]}">#{pr["id"]} {title}</a> <code>{branch}</code></li>'
    )


def _step(log: dict[str, Any], created: float, at: float) -> str:
    since = max(0, round(at - created))
    parts = [f'<time datetime="{iso(at)}">+{since // 60}m{since % 60:02d}s</time>']
    parts.append(f"<b>{escape(str(log.get('message_type') or 'LOG'))}</b>")
    if log.get("tool_name"):
        args = json.dumps(log.get("tool_input") or {}, ensure_ascii=False)[:300]
        parts.append(f"<code>{escape(str(log['tool_name']))} {escape(args)}</code>")
    if log.get("thought"):
        parts.append(_cut(str(log["thought"])))
    return "<li>" + " ".join(parts) + "</li>"


def _segments(run: dict[str, Any], now: float) -> list[tuple[list[dict[str, Any]], set[int]]]:
    """The run's segments so far (its start, then each resume): their tool calls and PR ids."""
    segments: list[tuple[list[dict[str, Any]], set[int]]] = [([], set())]
    for event in run["events"]:
        if event["at"] > now:
            continue
        kind = (event.get("log") or {}).get("message_type")
        if kind == "USER_MESSAGE":
            segments.append(([], set()))
        elif kind == "ACTION":
            segments[-1][0].append(event["log"])
        elif event["kind"] == "finish":
            segments[-1][1].update(pr["id"] for pr in event.get("pull_requests", []))
    return segments


def _writes(calls: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """``(path, lines changed)`` of the calls that changed a file."""
    found = []
    for call in calls:
        path = (call.get("tool_input") or {}).get("path")
        if isinstance(path, str) and _WRITES.search(str(call.get("tool_name") or "")):
            lines = (call.get("tool_output") or {}).get("lines_changed")
            found.append((path, lines if isinstance(lines, int) else 0))
    return found


def run_page(engine: Engine, run: dict[str, Any], now: float) -> HTMLResponse:
    view = engine.view(run, now)
    created = float(run["created_at"])
    steps = [
        _step(e["log"], created, e["at"])
        for e in run["events"]
        if e["kind"] == "log" and e["at"] <= now
    ]
    prs = "".join(_pr_item(pr) for pr in view["github_pull_requests"])
    status, summary = escape(view["status"]), f" · {escape(view['summary'] or '')}"
    body = (
        f'<p><strong class="{status}" id="status">{status}</strong> · created '
        f"<time>{view['created_at']}</time>{summary if view['summary'] else ''}</p>"
        f"<h2>Task</h2><pre>{_cut(run['prompts'][0])}</pre>"
        f'<h2>Timeline</h2><ol id="timeline">{"".join(steps) or "<li>No steps yet.</li>"}</ol>'
        f'<h2>Result</h2><pre id="result">{_cut(view["result"] or "No result yet.")}</pre>'
        f'<h2>Pull requests</h2><ul id="prs">{prs or "<li>None.</li>"}</ul>'
    )
    terminal = view["status"] in TERMINAL
    return _html(f"Agent run {run['id']}", body, refresh=not terminal)


def pr_page(engine: Engine, pr_id: int, now: float) -> HTMLResponse:
    runs = engine.store.runs()
    prs = [
        pr
        for run in runs
        for e in run["events"]
        if e["kind"] == "finish" and e["at"] <= now
        for pr in e.get("pull_requests", [])
        if pr["id"] == pr_id
    ]
    if not prs:
        return _html("Pull request not found", f"<p>No pull request {pr_id}.</p>", 404)
    pr, branch = prs[0], prs[0].get("head_branch_name")
    files: dict[str, int] = {}
    pushers = []
    for run in runs:
        # The segment that opened it, later segments of that run that changed files, and
        # any segment whose tool calls name its branch (a push).
        opened, pushes = False, 0
        for calls, opened_here in _segments(run, now):
            named = branch is not None and any(
                branch in (c.get("tool_input") or {}).values() for c in calls
            )
            if pr_id in opened_here:
                opened = True
            elif named or (opened and _writes(calls)):
                pushes += 1
            else:
                continue
            for path, lines in _writes(calls):
                files[path] = files.get(path, 0) + lines
        if opened or pushes:
            did = ["opened it"] if opened else []
            did += [f"pushed {pushes} update{'s' * (pushes != 1)}"] if pushes else []
            link = f'<a href="/agent/trace/{run["id"]}">run {run["id"]}</a>'
            pushers.append(f"<li>{link} {escape(engine.status(run, now))}: {', '.join(did)}</li>")
    changed = "".join(
        f"<li><code>{escape(p)}</code>{f' ({n} lines changed)' if n else ''}</li>"
        for p, n in files.items()
    )
    body = (
        f"<p>Branch <code>{escape(str(branch or ''))}</code> · opened "
        f"<time>{escape(str(pr.get('created_at') or ''))}</time></p>"
        f'<h2>Files changed</h2><ul id="files">{changed or "<li>None recorded.</li>"}</ul>'
        f'<h2>Runs that pushed to it</h2><ul id="runs">{"".join(pushers)}</ul>'
    )
    return _html(f"Pull request #{pr_id}: {pr.get('title') or '(untitled)'}", body)


def _this_machine(request: Request) -> bool:
    """Whether the request comes from a loopback address or the server's own address."""
    client = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or client == (request.scope.get("server") or ("",))[0]


def add_pages(api: FastAPI, engine: Engine) -> None:
    """Serve ``/agent/trace/{id}`` (a run) and ``/local/pull/{id}`` (a pull request)."""

    @api.get("/agent/trace/{ident}", include_in_schema=False)
    @api.get("/local/pull/{ident}", include_in_schema=False)
    def page(request: Request, ident: int) -> HTMLResponse:
        if not _this_machine(request):
            return _html("Forbidden", "<p>These pages are served to this machine only.</p>", 403)
        now = engine.clock.now()
        if request.url.path.startswith("/local/pull/"):
            return pr_page(engine, ident, now)
        run = engine.store.get_run(ident)
        if run is None:
            return _html("Run not found", f"<p>No agent run {ident}.</p>", 404)
        return run_page(engine, run, now)
