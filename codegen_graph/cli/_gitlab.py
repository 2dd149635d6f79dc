"""``codegen-graph review-mr``: the shared review flow (``_review.py``), posted as a
merge-request note through GitLab's REST API. A ready job is in
``examples/gitlab-ci/codegen-review.yml``.

GitLab's job token (``CI_JOB_TOKEN``) may not post notes, so the note is posted with an
access token (``GITLAB_TOKEN``) sent as ``PRIVATE-TOKEN``; the job token is never used.
"""

from __future__ import annotations

import os
import re
from typing import Annotated
from urllib.parse import quote

import typer

from .._exceptions import ConfigurationError
from ._common import FROM_OPTIONS, BackendOptions, JsonOpt, backend_options, handle_errors
from ._review import Forge, KeyOpt, RepoIdOpt, Review, TimeoutOpt, resolve_api_url, run_review

__all__ = ["GitLabClient", "resolve_gitlab_api_url", "review_mr"]

DEFAULT_GITLAB_API_URL = "https://gitlab.com/api/v4"
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"  # a group or project path: no "..", no "-x"
_PROJECT_RE = re.compile(rf"^(\d+|{_SEGMENT}(/{_SEGMENT})+)$")


def resolve_gitlab_api_url(url: str | None) -> str:
    """The GitLab API root: the argument, ``CI_API_V4_URL``, ``$CI_SERVER_URL/api/v4`` or
    ``https://gitlab.com/api/v4``."""
    server = os.environ.get("CI_SERVER_URL", "").strip().rstrip("/")
    raw = url or os.environ.get("CI_API_V4_URL") or (server and f"{server}/api/v4")
    return resolve_api_url(raw or DEFAULT_GITLAB_API_URL, "--gitlab-api-url", "GitLab")


class GitLabClient(Forge):
    """Adds notes to one merge request; ``project`` is its numeric id or its path."""

    name, noun = "GitLab", "note"
    auth = ("PRIVATE-TOKEN", "{}")
    token_source = "GITLAB_TOKEN (or --gitlab-token)"
    missing_token = (
        "No GitLab token: pass --gitlab-token or set GITLAB_TOKEN (in GitLab CI: a masked "
        "CI/CD variable holding a project access token with the api scope; CI_JOB_TOKEN "
        "cannot post notes)"
    )
    auth_hint = (
        "check GITLAB_TOKEN (or --gitlab-token): an access token with the api scope and "
        "at least the Reporter role in the project"
    )
    not_found_hint = "check --project and --mr, and that the token can see the project"
    max_chars = 999_000  # GitLab rejects notes over 1,000,000 characters

    def __init__(self, token: str, project: str, mr: int, *, api_url: str | None = None):
        super().__init__(token, resolve_gitlab_api_url(api_url))
        self.project, self.mr = project, mr
        self.path = f"/projects/{quote(project, safe='')}/merge_requests/{mr}/notes"

    def post(self, body: str) -> str | None:
        """Post the note; its URL when the project is a path (GitLab's answer has none)."""
        note = self._post(self.path, body)
        note_id = note.get("id") if isinstance(note, dict) else None
        server = self.api_url.removesuffix("/api/v4")
        if not isinstance(note_id, int) or self.project.isdigit() or server == self.api_url:
            return None
        return f"{server}/{self.project}/-/merge_requests/{self.mr}#note_{note_id}"


@handle_errors
@backend_options()
def review_mr(
    project: Annotated[
        str,
        typer.Option(
            "--project",
            help="The project, its id or GROUP/NAME path (default: "
            "CI_MERGE_REQUEST_PROJECT_PATH, else CI_PROJECT_ID).",
            envvar=["CI_MERGE_REQUEST_PROJECT_PATH", "CI_PROJECT_ID"],
            show_envvar=False,
        ),
    ],
    mr: Annotated[
        int,
        typer.Option(
            "--mr",
            help="The merge request's IID (default: CI_MERGE_REQUEST_IID).",
            envvar="CI_MERGE_REQUEST_IID",
            show_envvar=False,
            min=1,
        ),
    ],
    gitlab_token: Annotated[
        str | None,
        typer.Option(
            "--gitlab-token",
            help="GitLab access token allowed to post notes (default: GITLAB_TOKEN). "
            "Never printed.",
            show_default=False,
        ),
    ] = None,
    gitlab_api_url: Annotated[
        str | None,
        typer.Option(
            "--gitlab-api-url",
            help="GitLab API root (default: CI_API_V4_URL, else CI_SERVER_URL/api/v4, "
            "else https://gitlab.com/api/v4).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[bool, typer.Option(help="Post the review as a merge-request note.")] = True,
    repo_id: RepoIdOpt = None,
    timeout: TimeoutOpt = 3600.0,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
    options: BackendOptions = FROM_OPTIONS,
) -> None:
    """Review a merge request with a Codegen agent; post the review as an MR note.

    Exits 0 when the review was written, 1 when the agent run failed (no note is posted).
    Needs CODEGEN_API_TOKEN: it never falls back to the embedded local backend unless
    --local is given. In GitLab CI the review is keyed by CI_PIPELINE_ID, so a retried job
    reuses it.
    """
    project = project.strip()
    if not _PROJECT_RE.match(project):
        raise ConfigurationError(
            f"--project must be a project id or its path (GROUP/NAME), got {project!r}"
        )
    review = Review(
        command="review-mr",
        title=f"{project}!{mr}",
        subject=f"merge request !{mr} of the GitLab project {project}",
        change="merge request",
        metadata={"gitlab_project": project, "gitlab_mr": mr},
        forge=GitLabClient,
        ci_run_var="CI_PIPELINE_ID",
    )
    token = gitlab_token or os.environ.get("GITLAB_TOKEN", "")
    run_review(
        review,
        options,
        (lambda: GitLabClient(token, project, mr, api_url=gitlab_api_url)) if note else None,
        repo_id=repo_id,
        timeout=timeout,
        idempotency_key=idempotency_key,
        as_json=as_json,
    )
