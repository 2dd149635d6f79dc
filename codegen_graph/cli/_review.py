"""``codegen-graph review-pr``: a Codegen review agent on a pull request, for CI.

Runs one agent through the Codegen API, waits for it, appends the review to
``$GITHUB_STEP_SUMMARY`` and posts it as a pull-request comment. A ready workflow is in
``examples/github-actions/codegen-review.yml``.

What it writes reaches a real system, so it never falls back to the embedded local
backend by itself: without a Codegen token it stops with an error, and the local backend
runs only with ``--local`` (its review is then marked as simulated).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Any

import typer

from ..models import AgentRunResponse
from ._common import (
    EXIT_FAILED,
    FROM_OPTIONS,
    Backend,
    BackendOptions,
    JsonOpt,
    backend_options,
    cli_state,
    handle_errors,
    print_json,
)
from ._github import GitHubClient, append_step_summary, parse_repo
from ._runs import wait_live

__all__ = ["WRITES_OUTSIDE", "render_review", "review_pr", "review_prompt"]

#: What review-pr does that a stand-in must never do unasked (for the refusal message).
WRITES_OUTSIDE = "posts the review to GitHub"


def review_prompt(owner: str, name: str, number: int) -> str:
    """The prompt the review agent gets."""
    return (
        f"Review pull request #{number} of the GitHub repository {owner}/{name}. "
        "Read the diff and the code it touches, then answer with a review in Markdown: "
        "a two-line summary of the change, then bugs and risks (file and line for each), "
        "then concrete suggestions. Do not push commits to the pull request."
    )


def review_key(owner: str, name: str, number: int) -> str | None:
    """The review's idempotency key in GitHub Actions: one review run per pull request and
    workflow run (``GITHUB_RUN_ID``), so re-running a failed job (a new attempt of the same
    workflow run) attaches to the review already paid for; a new push starts a new workflow
    run and so a new review. Outside Actions: ``None`` (every call reviews anew)."""
    run_id = os.environ.get("GITHUB_RUN_ID", "").strip()
    if not run_id:
        return None
    return f"review-pr:{owner}/{name}#{number}:{run_id}"


def render_review(repo: str, number: int, run: AgentRunResponse, *, simulated: bool = False) -> str:
    """The Markdown written to the step summary and posted as the comment.

    ``simulated`` marks a review made by the embedded local backend (``--local``).
    """
    status = run.status.raw if run.status is not None else "unknown"
    ok = run.status is not None and run.status.is_success
    title = f"## Codegen review of {repo}#{number}" + ("" if ok else f" ({status})")
    text = (run.result or run.summary or "").strip()
    if not text:
        text = "_The agent returned no text._"
    elif not ok:
        text = f"The review agent ended **{status}**:\n\n{text}"
    link = f"[{run.id}]({run.web_url})" if run.web_url else str(run.id)
    footer = f"<sub>Codegen agent run {link} · {status} · posted by codegen-graph</sub>"
    if simulated:
        footer = (
            "<sub>Simulated by codegen-graph's embedded local backend (--local): not a "
            f"review by a Codegen agent · run {run.id} · {status}</sub>"
        )
    return f"{title}\n\n{text}\n\n---\n{footer}\n"


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
    repo_id: Annotated[
        int | None, typer.Option("--repo-id", help="Codegen repository id, if known.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the review.", min=1)
    ] = 3600.0,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Never start two reviews for one key (default in GitHub Actions: the "
            "repository, PR and GITHUB_RUN_ID, so a re-run job reuses its review).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Review a pull request with a Codegen agent; write the step summary and a PR comment.

    Exits 0 when the review was written, 1 when the agent run failed (the step summary
    still says so; no comment is posted). Needs CODEGEN_API_TOKEN: it never falls back to
    the embedded local backend unless --local is given.
    """
    owner, name = parse_repo(repo)
    options = dataclasses.replace(options, writes_outside=WRITES_OUTSIDE)
    options.choice()  # refuse a silent fallback before touching GitHub or starting a run
    github: GitHubClient | None = None
    if comment:  # fail on a missing token or bad URL before spending an agent run
        github = GitHubClient(
            github_token or os.environ.get("GITHUB_TOKEN", ""), api_url=github_api_url
        )
    try:
        with Backend(options) as backend, backend.client() as client:
            simulated = backend.is_local
            key = idempotency_key or review_key(owner, name, pr)
            run = client.agent_runs.start(
                review_prompt(owner, name, pr),
                repo_id=repo_id,
                metadata={"github_repo": f"{owner}/{name}", "github_pr": pr},
                idempotency_key=key,
            )
            if run.reused:
                cli_state().err.print(
                    f"review agent run {run.id} already exists for this CI run: reusing it",
                    highlight=False,
                )
            cli_state().err.print(f"review agent run {run.id} started", highlight=False)
            wait_live(client, run, timeout, live=not as_json)
        markdown = render_review(f"{owner}/{name}", pr, run.data, simulated=simulated)
        summary = append_step_summary(markdown)
        comment_url: str | None = None
        if github is not None and run.is_success:
            comment_url = github.comment_on_pr(owner, name, pr, markdown)
    finally:
        if github is not None:
            github.close()
    _report(run.data, markdown, comment_url, summary is not None, as_json)
    if not run.is_success:
        raise typer.Exit(EXIT_FAILED)


def _report(
    run: AgentRunResponse, markdown: str, comment_url: str | None, summary: bool, as_json: bool
) -> None:
    if as_json:
        doc: dict[str, Any] = {
            "run": run.model_dump(mode="json", exclude_none=True),
            "review": markdown,
            "comment_url": comment_url,
            "step_summary": summary,
        }
        print_json(doc)
        return
    out = cli_state().out
    out.print(markdown, markup=False, highlight=False)
    if comment_url:
        out.print(f"comment: {comment_url}", markup=False)
