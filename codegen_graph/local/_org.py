"""What the local backend answers beyond agent runs (see docs/local-backend.md): repositories
and their check-suite settings, pull request edits, integrations, MCP providers, CLI rules,
and the runs that generate setup commands or analyse a sandbox's setup logs.

Deterministic; what a route changes is kept in the store (settings, PR states). Each
repository has one sandbox, with its id, whose setup logs are those of its latest
setup-commands run.
"""

from __future__ import annotations

import json
from typing import Any

from ._behavior import Outcome, Step
from ._engine import Engine
from ._store import Identity

__all__ = ["OrgData"]

_REPOS = [("demo-app", "A demo web service", "Python"), ("demo-lib", None, "TypeScript")]
_SETUP = {
    "Python": ["python -m venv .venv", ". .venv/bin/activate", "pip install -e '.[test]'"],
    "TypeScript": ["npm ci", "npm run build"],
}
_SETTINGS = dict(check_retry_count=3, ignored_checks=[], check_retry_counts={}, custom_prompts={})
_SETTINGS["high_priority_apps"] = []
_CHECKS = ["ci / lint", "ci / tests", "ci / build"]


class OrgData:
    """The organization-level answers, over the engine's store and clock."""

    CLI_RULES = {
        "organization_rules": "Run the test suite before opening a pull request; keep PRs small.",
        "user_custom_prompt": None,
    }

    def __init__(self, engine: Engine) -> None:
        self.engine, self.store = engine, engine.store

    @staticmethod
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

    def repo(self, org_id: int, repo_id: int) -> dict[str, Any] | None:
        return next((r for r in self.repos(org_id) if r["id"] == repo_id), None)

    def settings(self, org_id: int, repo_id: int, changes: dict[str, Any] | None = None) -> Any:
        """A repository's check-suite settings, after applying ``changes`` (``None``: kept)."""
        key = f"check_suite:{org_id}:{repo_id}"
        with self.store.transaction():
            saved = {**_SETTINGS, **json.loads(self.store.get_meta(key) or "{}")}
            if changes:
                saved.update({k: v for k, v in changes.items() if v is not None})
                self.store.set_meta(key, json.dumps(saved))
        return {**saved, "available_check_suite_names": _CHECKS}

    def edit_pr(self, org_id: int, pr_id: int, state: str, repo_id: int | None) -> Any:
        """Set the state of a PR a run of the organization opened (the run lists it with that
        ``state`` from then on); an ``EditPRResponse`` body. The PRs of a run without a
        repository belong to repository 1."""
        with self.store.run_for_update(int(self.store.get_meta(f"pr_run:{pr_id}") or 0)) as run:
            now = self.engine.clock.now()
            mine, found = run is not None and run["org_id"] == org_id, []
            if run is not None and mine and repo_id in (None, run.get("repo_id") or 1):
                events = [e for e in run["events"] if e["kind"] == "finish" and e["at"] <= now]
                found = [
                    pr for e in events for pr in e.get("pull_requests", []) if pr["id"] == pr_id
                ]
            if run is None or not mine or not found:
                where = "" if repo_id is None else f" in repository {repo_id}"
                return {"success": False, "error": f"Pull request {pr_id} not found{where}."}
            for pr in found:
                pr["state"] = "open" if state == "ready_for_review" else state
            self.store.save_run(run, now)
        return {"success": True, "number": pr_id, **{k: pr[k] for k in ("url", "title", "state")}}

    def integrations(self, org_id: int) -> dict[str, Any]:
        """GitHub (installed), and Slack, Linear and any provider with an active OAuth token."""
        active = self.store.oauth_providers(org_id)
        github = {"integration_type": "github", "active": True, "installation_id": 700_000 + org_id}
        names = sorted({"slack", "linear", *active} - {"github"})
        items = [github, *({"integration_type": p, "active": p in active} for p in names)]
        return {
            "organization_id": org_id,
            "organization_name": f"Local Org {org_id}",
            "integrations": items,
            "total_active_integrations": sum(bool(i["active"]) for i in items),
        }

    def mcp_providers(self) -> list[dict[str, Any]]:
        """Three fixed MCP providers, their endpoints on the local base URL (not served)."""
        url = f"{self.engine.base_url}/local/oauth"
        return [
            {
                "id": 1 + i,
                "name": name,
                "issuer": f"{url}/{name}",
                "authorization_endpoint": f"{url}/{name}/authorize",
                "token_endpoint": f"{url}/{name}/token",
                "default_scopes": ["read"],
                "is_mcp": True,
            }
            for i, name in enumerate(("linear", "notion", "sentry"))
        ]

    def generate_setup(self, me: Identity, repo: dict[str, Any], prompt: str | None) -> Any:
        """Start the setup-commands run (it runs each command of the repository's language)."""
        commands = _SETUP.get(repo["language"] or "", ["make setup"])
        steps = tuple(
            Step("ACTION", f"Run `{c}`", "run_command", {"command": c}, {"exit_code": 0})
            for c in commands
        )
        name = repo["full_name"]
        outcome = Outcome(
            status="COMPLETE",
            result=f"Setup commands for {name}:\n" + "\n".join(commands),
            summary=f"{len(commands)} setup commands for {name}, each ran cleanly.",
            steps=steps,
            duration=30.0,
        )
        prompt = prompt or f"Generate setup commands for {name}."
        view = self._start(me, prompt, repo["id"], outcome, "SETUP_COMMANDS")
        return {"agent_run_id": view["id"], "status": view["status"], "url": view["web_url"]}

    def analyze_logs(self, me: Identity, sandbox_id: int) -> Any:
        """Start the run analysing the sandbox's setup logs so far (``None``: there are none);
        its result counts the entries and errors and quotes the first error."""
        runs, _ = self.store.list_runs(
            me.org_id, user_id=None, source_type="SETUP_COMMANDS", skip=0, limit=100
        )
        setup = next((r for r in runs if r.get("repo_id") == sandbox_id), None)
        entries = self.engine.logs(setup) if setup is not None else []
        if setup is None or not entries:
            return None
        errors = [e for e in entries if e["message_type"] == "ERROR"]
        logs = f"{len(entries)} setup log entries of sandbox {sandbox_id}"
        seen = f"{logs} (run {setup['id']}, {self.engine.status(setup)})"
        result = (
            f"{len(errors)} error(s) in {seen}. First error: {errors[0]['thought']} "
            "Suggested fix: regenerate the setup commands and check the failing step."
            if errors
            else f"No errors in {seen}: the setup commands that ran exited 0."
        )
        read = Step("ACTION", "Read the setup logs", "read_logs", {"sandbox_id": sandbox_id})
        outcome = Outcome("COMPLETE", result, result, steps=(read,), duration=20.0)
        view = self._start(
            me, f"Analyze the setup logs of sandbox {sandbox_id}.", sandbox_id, outcome
        )
        message = f"Analyzing {logs}; agent run {view['id']} will hold the result."
        return {"agent_run_id": view["id"], "status": view["status"], "message": message}

    def _start(
        self, me: Identity, prompt: str, repo_id: int, outcome: Outcome, source: str = "API"
    ) -> dict[str, Any]:
        return self.engine.create(
            org_id=me.org_id,
            user_id=me.user_id,
            prompt=prompt,
            repo_id=repo_id,
            source_type=source,
            outcome=outcome,
        )
