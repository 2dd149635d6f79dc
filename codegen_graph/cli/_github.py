"""``codegen-graph review-pr``: the shared review flow (``_review.py``), posted as a
pull-request comment through GitHub's REST API and appended to ``$GITHUB_STEP_SUMMARY``.
A ready workflow is in ``examples/github-actions/codegen-review.yml``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from .._exceptions import ConfigurationError
from ._common import FROM_OPTIONS, BackendOptions, JsonOpt, backend_options, handle_errors
from ._review import Forge, KeyOpt, RepoIdOpt, Review, TimeoutOpt, resolve_api_url, run_review

__all__ = ["GitHubClient", "append_step_summary", "parse_repo", "review_pr"]

DEFAULT_GITHUB_API_URL = "https://api.github.com"
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def parse_repo(repo: str) -> tuple[str, str]:
    """Split ``OWNER/NAME``.

    Raises:
        ConfigurationError: not of the form ``OWNER/NAME`` (``.`` and ``..`` are no names).
    """
    owner, _, name = repo.strip().partition("/")
    # a dot segment would name another API path than the repository's
    if not _REPO_RE.match(repo.strip()) or {owner, name} & {".", ".."}:
        raise ConfigurationError(f"--repo must look like OWNER/NAME, got {repo!r}")
    return owner, name


def resolve_github_api_url(url: str | None) -> str:
    """The GitHub API root: the argument, ``GITHUB_API_URL`` or ``https://api.github.com``."""
    raw = url or os.environ.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL
    return resolve_api_url(raw, "--github-api-url", "GitHub")


class GitHubClient(Forge):
    """Comments on one pull request (``repo`` is ``OWNER/NAME``); ``api_url`` defaults to
    ``GITHUB_API_URL`` (GitHub Enterprise: ``https://HOST/api/v3``)."""

    name, noun = "GitHub", "comment"
    auth = ("Authorization", "Bearer {}")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    token_source = "GITHUB_TOKEN (or --github-token)"
    missing_token = (
        "No GitHub token: pass --github-token or set GITHUB_TOKEN "
        "(in a workflow: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})"
    )
    auth_hint = (
        "check GITHUB_TOKEN (or --github-token): it needs pull-requests: write "
        "(in a workflow: permissions: pull-requests: write)"
    )
    not_found_hint = "check --repo and --pr, and that the token can see the repository"
    max_chars = 65_000  # GitHub rejects comment bodies over 65,536 characters

    def __init__(self, token: str, repo: str, number: int, *, api_url: str | None = None):
        super().__init__(token, resolve_github_api_url(api_url))
        self.path = f"/repos/{repo}/issues/{number}/comments"

    def post(self, body: str) -> str | None:
        answer = self._post(self.path, body)
        url = answer.get("html_url") if isinstance(answer, dict) else None
        return url if isinstance(url, str) else None


def append_step_summary(markdown: str, path: str | None = None) -> Path | None:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY`` (or ``path``); ``None`` if unset."""
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    file = Path(target)
    with file.open("a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n")
    return file


@handle_errors
@backend_options()
def review_pr(
    repo: Annotated[str, typer.Option("--repo", help="The repository, OWNER/NAME.")],
    pr: Annotated[int, typer.Option("--pr", help="The pull request number.", min=1)],
    github_token: Annotated[
        str | None,
        typer.Option(
            "--github-token",
            help="GitHub token allowed to comment (default: GITHUB_TOKEN). Never printed.",
            show_default=False,
        ),
    ] = None,
    github_api_url: Annotated[
        str | None,
        typer.Option(
            "--github-api-url",
            help="GitHub API root (default: GITHUB_API_URL or https://api.github.com).",
            show_default=False,
        ),
    ] = None,
    comment: Annotated[
        bool, typer.Option(help="Post the review as a pull-request comment.")
    ] = True,
    repo_id: RepoIdOpt = None,
    timeout: TimeoutOpt = 3600.0,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Review a pull request with a Codegen agent; write the step summary and a PR comment.

    Exits 0 when the review was written, 1 when the agent run failed (the step summary
    still says so; no comment is posted). Needs CODEGEN_API_TOKEN: it never falls back to
    the embedded local backend unless --local is given. In GitHub Actions the review is
    keyed by GITHUB_RUN_ID, so a re-run job reuses it.
    """
    owner, name = parse_repo(repo)
    review = Review(
        command="review-pr",
        title=f"{owner}/{name}#{pr}",
        subject=f"pull request #{pr} of the GitHub repository {owner}/{name}",
        change="pull request",
        metadata={"github_repo": f"{owner}/{name}", "github_pr": pr},
        forge=GitHubClient,
        ci_run_var="GITHUB_RUN_ID",
    )
    token = github_token or os.environ.get("GITHUB_TOKEN", "")
    run_review(
        review,
        options,
        (lambda: GitHubClient(token, f"{owner}/{name}", pr, api_url=github_api_url))
        if comment
        else None,
        repo_id=repo_id,
        timeout=timeout,
        idempotency_key=idempotency_key,
        as_json=as_json,
        summary=append_step_summary,
    )
