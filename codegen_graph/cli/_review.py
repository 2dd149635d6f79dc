"""The review flow ``review-pr`` (GitHub) and ``review-mr`` (GitLab) share; only the
posting differs (a :class:`Forge` subclass each, in ``_github.py`` and ``_gitlab.py``).

The safety rules live here, once: a review reaches a real system, so it never falls back to
the embedded local backend by itself (only ``--local``, and the review says it is
simulated), and the forge token is checked before an agent run is spent. That token
travels only in a header, never in a message, repr or exception.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

import httpx
import typer

from .._config import check_token, is_loopback_host
from .._exceptions import CodegenError, ConfigurationError
from ..models import AgentRunResponse
from ._common import EXIT_FAILED, Backend, BackendOptions, cli_state, print_json
from ._runs import wait_live

__all__ = ["Forge", "ForgeError", "Review", "render_review", "resolve_api_url", "run_review"]

RepoIdOpt = Annotated[
    int | None, typer.Option("--repo-id", help="Codegen repository id, if known.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the review.", min=1)
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="Never start two reviews for one key (default in CI: the change and the CI "
        "run's id, so a re-run job reuses its review).",
        show_default=False,
    ),
]


class ForgeError(CodegenError):
    """The forge's API (GitHub, GitLab) refused or failed a request.

    Attributes:
        status_code: the HTTP status, or ``None`` when no answer came.
    """

    def __init__(self, message: str, forge: Forge, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.is_transient = status_code is None or status_code == 429 or status_code >= 500
        if status_code in (401, 403):
            self.cli_hint = forge.auth_hint
        elif status_code == 404:
            self.cli_hint = forge.not_found_hint
        elif self.is_transient:
            self.cli_hint = f"{forge.name} is unavailable or unreachable: try again later"
        else:
            self.cli_hint = f"{forge.name} rejected the {forge.noun}; see the message above"


def resolve_api_url(raw: str, option: str, forge: str) -> str:
    """An API root checked for sending a token to: http(s), no credentials or query, and
    plain http only to a loopback host.

    Raises:
        ConfigurationError: it is not.
    """
    raw = raw.strip()
    parts = urlsplit(raw)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(f"{option} must be an http(s) URL, got {raw!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(f"{option} must not carry credentials or a query")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"Refusing plain http:// to {host!r}: the {forge} token would travel in clear "
            "text. Use https:// (http:// only for 127.0.0.1, ::1 or localhost)."
        )
    return raw.rstrip("/")


class Forge:
    """Posts one review through a forge's REST API: a subclass per forge, bound to one
    pull or merge request, says where (:meth:`post`) and how the token is sent."""

    name: ClassVar[str]  # "GitHub"
    noun: ClassVar[str]  # what a posted review is called there: "comment"
    auth: ClassVar[tuple[str, str]]  # the header carrying the token, and its value's format
    headers: ClassVar[dict[str, str]] = {}  # sent with every request
    token_source: ClassVar[str]  # "GITHUB_TOKEN (or --github-token)"
    missing_token: ClassVar[str]  # the error without a token: how to provide one
    auth_hint: ClassVar[str]
    not_found_hint: ClassVar[str]
    max_chars: ClassVar[int]  # the longest body the forge accepts, with some room

    def __init__(self, token: str, api_url: str) -> None:
        if not token.strip():
            raise ConfigurationError(self.missing_token)
        # Checked like a Codegen token: a newline in it would otherwise reach httpx, whose
        # error text and debug log show the whole header.
        token = check_token(token, self.token_source)
        self.api_url = api_url
        headers = self.headers | {
            self.auth[0]: self.auth[1].format(token),
            "User-Agent": "codegen-graph",
        }
        self._http = httpx.Client(base_url=api_url, timeout=30.0, headers=headers)

    def post(self, body: str) -> str | None:
        """Post ``body`` as the review; return its web URL when known."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r}, token=***)"

    def _post(self, path: str, body: str) -> Any:
        """POST ``{"body": body}`` (cut to :attr:`max_chars`); the decoded answer or ``None``.

        Raises:
            ForgeError: an error status, or no answer.
        """
        if len(body) > self.max_chars:
            body = body[: self.max_chars - 40] + "\n\n… (truncated by codegen-graph)"
        try:
            response = self._http.post(path, json={"body": body})
        except httpx.HTTPError as exc:
            raise ForgeError(
                f"POST {path}: no answer from {self.name} ({type(exc).__name__})", self
            ) from None
        if response.status_code >= 400:
            raise ForgeError(
                f"{self.name} answered HTTP {response.status_code} to POST {path}: "
                f"{_message(response)}",
                self,
                status_code=response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            return None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200] or response.reason_phrase
    found = data.get("message", data.get("error")) if isinstance(data, dict) else None
    if found is None:
        return response.reason_phrase
    return (found if isinstance(found, str) else json.dumps(found))[:200]


@dataclass(frozen=True)
class Review:
    """One review: what the agent is asked, and where its answer goes."""

    command: str  # "review-pr", for the idempotency key
    title: str  # the change as the forge writes it: "octo/demo#17", "group/app!17"
    subject: str  # the change in words, for the prompt
    change: str  # what the forge calls it: "pull request"
    metadata: dict[str, Any]  # recorded on the agent run
    forge: type[Forge]
    ci_run_var: str  # names the CI run ("GITHUB_RUN_ID"): a re-run job keeps it

    @property
    def prompt(self) -> str:
        """The prompt the review agent gets."""
        return (
            f"Review {self.subject}. Read the diff and the code it touches, then answer with "
            "a review in Markdown: a two-line summary of the change, then bugs and risks "
            "(file and line for each), then concrete suggestions. Do not push commits to "
            f"the {self.change}."
        )

    @property
    def key(self) -> str | None:
        """The idempotency key in CI: one review run per change and CI run, so re-running a
        failed job attaches to the review already paid for. Outside CI: ``None``."""
        ci_run = os.environ.get(self.ci_run_var, "").strip()
        return f"{self.command}:{self.title}:{ci_run}" if ci_run else None


def render_review(title: str, run: AgentRunResponse, *, simulated: bool = False) -> str:
    """The Markdown posted (and written to a step summary).

    ``simulated`` marks a review made by the embedded local backend (``--local``).
    """
    status = run.status.raw if run.status is not None else "unknown"
    ok = run.status is not None and run.status.is_success
    heading = f"## Codegen review of {title}" + ("" if ok else f" ({status})")
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
    return f"{heading}\n\n{text}\n\n---\n{footer}\n"


def run_review(
    review: Review,
    options: BackendOptions,
    connect: Callable[[], Forge] | None,
    *,
    repo_id: int | None,
    timeout: float,
    idempotency_key: str | None,
    as_json: bool,
    summary: Callable[[str], Path | None] | None = None,
) -> None:
    """Run the review and post it with the forge ``connect`` makes (``None``: print only).

    ``summary`` also gets the review, even when the run failed (no post then). Exits 1 when
    the agent run failed.
    """
    writes = f"posts the review to {review.forge.name}"
    options = dataclasses.replace(options, writes_outside=writes)
    options.choice()  # refuse a silent fallback before touching the forge or starting a run
    forge = connect() if connect is not None else None  # a bad token fails before a run
    try:
        with Backend(options) as backend, backend.client() as client:
            run = client.agent_runs.start(
                review.prompt,
                repo_id=repo_id,
                metadata=review.metadata,
                idempotency_key=idempotency_key or review.key,
            )
            err = cli_state().err
            if run.reused:
                err.print(f"review agent run {run.id} already exists for this CI run: reusing it")
            err.print(f"review agent run {run.id} started")
            wait_live(client, run, timeout, live=not as_json)
            simulated = backend.is_local
        markdown = render_review(review.title, run.data, simulated=simulated)
        written = summary(markdown) if summary is not None else None
        url = forge.post(markdown) if forge is not None and run.is_success else None
    finally:
        if forge is not None:
            forge.close()
    noun = review.forge.noun
    if as_json:
        doc: dict[str, Any] = {
            "run": run.data.model_dump(mode="json", exclude_none=True),
            "review": markdown,
            f"{noun}_url": url,
        }
        print_json(doc | ({"step_summary": written is not None} if summary else {}))
    else:
        cli_state().out.print(markdown, markup=False, soft_wrap=True)  # Markdown as posted
        if url:
            cli_state().out.print(f"{noun}: {url}", markup=False)
    if not run.is_success:
        raise typer.Exit(EXIT_FAILED)
