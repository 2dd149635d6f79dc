"""What the local backend answers beyond agent runs: repositories and their check-suite
settings, pull request edits, integrations, MCP providers, CLI rules, and the agent runs that
generate setup commands or analyse a sandbox's setup logs.

All of it is deterministic; what a route changes is kept in the store (settings, PR states).
Each repository has one sandbox, with the repository's id, whose setup logs are those of the
repository's latest setup-commands run.
"""

from __future__ import annotations

import json
from typing import Any

from ._behavior import Outcome, Step
from ._engine import Engine

__all__ = [
    "CLI_RULES",
    "analysis_outcome",
    "check_suite_settings",
    "edit_pr",
    "integrations",
    "latest_setup_run",
    "mcp_providers",
    "repo",
    "repos",
    "setup_outcome",
    "update_check_suite_settings",
]

_REPOS = [("demo-app", "A demo web service", "Python"), ("demo-lib", None, "TypeScript")]
_SETUP = {
    "Python": ["python -m venv .venv", ". .venv/bin/activate", "pip install -e '.[test]'"],
    "TypeScript": ["npm ci", "npm run build"],
}
_DEFAULT_SETTINGS: dict[str, Any] = {
    "check_retry_count": 3,
    "ignored_checks": [],
    "check_retry_counts": {},
    "custom_prompts": {},
    "high_priority_apps": [],
}
CLI_RULES = {
    "organization_rules": "Run the test suite before opening a pull request; keep PRs small.",
    "user_custom_prompt": None,
}


def repos(org_id: int) -> list[dict[str, Any]]:
    """The organization's two fixed repositories (ids 1 and 2)."""
    return [
        {
            "id": 1 + i,
            "name": name,
            "full_name": f"local-org-{org_id}/{name}",
            "description": desc,
            "github_id": str(900_000 + i),
            "organization_id": org_id,
            "visibility": "PRIVATE",
            "archived": False,
            "setup_status": "COMPLETED",
            "language": lang,
        }
        for i, (name, desc, lang) in enumerate(_REPOS)
    ]


def repo(org_id: int, repo_id: int) -> dict[str, Any] | None:
    return next((r for r in repos(org_id) if r["id"] == repo_id), None)


def check_suite_settings(engine: Engine, org_id: int, repo_id: int) -> dict[str, Any]:
    saved = engine.store.get_meta(f"check_suite:{org_id}:{repo_id}")
    checks = ["ci / lint", "ci / tests", "ci / build"]
    return {**_DEFAULT_SETTINGS, **json.loads(saved or "{}"), "available_check_suite_names": checks}


def update_check_suite_settings(
    engine: Engine, org_id: int, repo_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply the fields given (``None``: unchanged) and return the settings."""
    with engine.store.transaction():
        current = check_suite_settings(engine, org_id, repo_id)
        del current["available_check_suite_names"]
        current.update({k: v for k, v in changes.items() if v is not None})
        engine.store.set_meta(f"check_suite:{org_id}:{repo_id}", json.dumps(current))
    return check_suite_settings(engine, org_id, repo_id)


def edit_pr(
    engine: Engine, org_id: int, pr_id: int, state: str, repo_id: int | None
) -> dict[str, Any]:
    """Set the state of a pull request a run of the organization opened (the run lists it
    with that ``state`` from then on); an ``EditPRResponse`` body."""
    run_id = int(engine.store.get_meta(f"pr_run:{pr_id}") or 0)
    with engine.store.run_for_update(run_id) as run:
        now = engine.clock.now()
        ours = run is not None and run["org_id"] == org_id
        in_repo = run is not None and repo_id in (None, run.get("repo_id") or 1)
        found = [
            pr
            for e in (run["events"] if run is not None and ours and in_repo else [])
            if e["kind"] == "finish" and e["at"] <= now
            for pr in e.get("pull_requests", [])
            if pr["id"] == pr_id
        ]
        if run is None or not found:
            where = "" if repo_id is None else f" in repository {repo_id}"
            return {"success": False, "error": f"Pull request {pr_id} not found{where}."}
        for pr in found:
            pr["state"] = "open" if state == "ready_for_review" else state
        engine.store.save_run(run, now)
    pr = found[-1]
    return {"success": True, "number": pr_id, **{k: pr[k] for k in ("url", "title", "state")}}


def integrations(engine: Engine, org_id: int) -> dict[str, Any]:
    """GitHub (installed), and Slack, Linear and any provider with an active OAuth token."""
    active = engine.store.oauth_providers(org_id)
    items = [
        {
            "integration_type": "github",
            "active": True,
            "installation_id": 700_000 + org_id,
            "metadata": {"app_name": "codegen-local", "account": f"local-org-{org_id}"},
        },
        *(
            {"integration_type": p, "active": p in active}
            for p in sorted({"slack", "linear", *active})
        ),
    ]
    return {
        "organization_id": org_id,
        "organization_name": f"Local Org {org_id}",
        "integrations": items,
        "total_active_integrations": sum(i["active"] for i in items),
    }


def mcp_providers(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "id": 1 + i,
            "name": name,
            "issuer": f"{base_url}/local/oauth/{name}",
            "authorization_endpoint": f"{base_url}/local/oauth/{name}/authorize",
            "token_endpoint": f"{base_url}/local/oauth/{name}/token",
            "default_scopes": ["read"],
            "is_mcp": True,
            "meta": None,
        }
        for i, name in enumerate(("linear", "notion", "sentry"))
    ]


def setup_outcome(repository: dict[str, Any]) -> Outcome:
    """The setup-commands run: it tries each command of the repository's language."""
    commands = _SETUP.get(repository["language"] or "", ["make setup"])
    steps = tuple(
        Step("ACTION", f"Run `{c}`", "run_command", {"command": c}, {"exit_code": 0})
        for c in commands
    )
    name = repository["full_name"]
    return Outcome(
        status="COMPLETE",
        result=f"Setup commands for {name}:\n" + "\n".join(commands),
        summary=f"{len(commands)} setup commands for {name}, each ran cleanly.",
        steps=steps,
        duration=30.0,
    )


def latest_setup_run(engine: Engine, org_id: int, repo_id: int) -> dict[str, Any] | None:
    runs, _ = engine.store.list_runs(
        org_id, user_id=None, source_type="SETUP_COMMANDS", skip=0, limit=100
    )
    return next((r for r in runs if r.get("repo_id") == repo_id), None)


def analysis_outcome(engine: Engine, sandbox_id: int, setup_run: dict[str, Any]) -> Outcome:
    """The log-analysis run: its result follows from the setup run's log entries so far."""
    entries = engine.logs(setup_run)
    errors = [e for e in entries if e["message_type"] == "ERROR"]
    run = f"run {setup_run['id']}, {engine.status(setup_run)}"
    seen = f"{len(entries)} setup log entries of sandbox {sandbox_id} ({run})"
    if errors:
        result = (
            f"{len(errors)} error(s) in {seen}. First error: {errors[0]['thought']} "
            "Suggested fix: regenerate the setup commands and check the failing step."
        )
    else:
        result = f"No errors in {seen}: the setup commands that ran exited 0."
    read = Step("ACTION", "Read the setup logs", "read_logs", {"sandbox_id": sandbox_id})
    return Outcome(status="COMPLETE", result=result, summary=result, steps=(read,), duration=20.0)
