"""The little of GitHub's REST API that ``review-pr`` needs: post a pull-request comment.

The token travels only in the ``Authorization`` header; it is never part of a message,
a repr or an exception.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .._config import check_token, is_loopback_host
from .._exceptions import CodegenError, ConfigurationError

__all__ = [
    "DEFAULT_GITHUB_API_URL",
    "GitHubClient",
    "GitHubError",
    "append_step_summary",
    "parse_repo",
]

DEFAULT_GITHUB_API_URL = "https://api.github.com"
#: GitHub rejects comment bodies over 65,536 characters.
MAX_COMMENT_CHARS = 65_000
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubError(CodegenError):
    """GitHub's API refused or failed a request.

    Attributes:
        status_code: the HTTP status, or ``None`` when no answer came.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.is_transient = status_code is None or status_code == 429 or status_code >= 500
        if status_code in (401, 403):
            self.cli_hint = (
                "check GITHUB_TOKEN (or --github-token): it needs pull-requests: write "
                "(in a workflow: permissions: pull-requests: write)"
            )
        elif status_code == 404:
            self.cli_hint = "check --repo and --pr, and that the token can see the repository"
        elif self.is_transient:
            self.cli_hint = "GitHub is unavailable or unreachable: try again later"
        else:
            self.cli_hint = "GitHub rejected the comment; see the message above"


def parse_repo(repo: str) -> tuple[str, str]:
    """Split ``OWNER/NAME``.

    Raises:
        ConfigurationError: not of the form ``OWNER/NAME``.
    """
    if not _REPO_RE.match(repo.strip()):
        raise ConfigurationError(f"--repo must look like OWNER/NAME, got {repo!r}")
    owner, name = repo.strip().split("/")
    return owner, name


def resolve_github_api_url(url: str | None) -> str:
    """The GitHub API root: the argument, ``GITHUB_API_URL`` or ``https://api.github.com``.

    Raises:
        ConfigurationError: not https (plain http is allowed only to a loopback host).
    """
    raw = (url or os.environ.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).strip()
    parts = urlsplit(raw)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(f"--github-api-url must be an http(s) URL, got {raw!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError("--github-api-url must not carry credentials or a query")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"Refusing plain http:// to {host!r}: the GitHub token would travel in clear "
            "text. Use https:// (http:// only for 127.0.0.1, ::1 or localhost)."
        )
    return raw.rstrip("/")


class GitHubClient:
    """Posts pull-request comments through GitHub's REST API.

    Args:
        token: a GitHub token with ``pull-requests: write``.
        api_url: the API root (GitHub Enterprise: ``https://HOST/api/v3``).
        transport: an httpx transport (tests).
        timeout: seconds per request.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not token or not token.strip():
            raise ConfigurationError(
                "No GitHub token: pass --github-token or set GITHUB_TOKEN "
                "(in a workflow: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})"
            )
        # Checked like a Codegen token: a newline in it would otherwise reach httpx, whose
        # error text and debug log show the whole header.
        token = check_token(token, "GITHUB_TOKEN (or --github-token)")
        self.api_url = resolve_github_api_url(api_url)
        self._http = httpx.Client(
            base_url=self.api_url,
            transport=transport,
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token.strip()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "codegen-graph",
            },
        )

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, token=***)"

    def comment_on_pr(self, owner: str, repo: str, number: int, body: str) -> str | None:
        """Post ``body`` as a comment on pull request ``number``; return the comment's URL.

        Raises:
            GitHubError: GitHub answered an error status, or did not answer.
        """
        if number < 1:
            raise ConfigurationError(f"--pr must be a positive number, got {number}")
        if len(body) > MAX_COMMENT_CHARS:
            body = body[: MAX_COMMENT_CHARS - 40] + "\n\n… (truncated by codegen-graph)"
        path = f"/repos/{owner}/{repo}/issues/{number}/comments"
        try:
            response = self._http.post(path, json={"body": body})
        except httpx.HTTPError as exc:
            raise GitHubError(
                f"POST {path}: no answer from GitHub ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise GitHubError(
                f"GitHub answered HTTP {response.status_code} to POST {path}: {_message(response)}",
                status_code=response.status_code,
            )
        try:
            url = response.json().get("html_url")
        except (ValueError, AttributeError):
            url = None
        return url if isinstance(url, str) else None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200] or response.reason_phrase
    message = data.get("message") if isinstance(data, dict) else None
    return message[:200] if isinstance(message, str) else response.reason_phrase


def append_step_summary(markdown: str, path: str | None = None) -> Path | None:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY`` (or ``path``); ``None`` if unset."""
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    file = Path(target)
    with file.open("a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n")
    return file
