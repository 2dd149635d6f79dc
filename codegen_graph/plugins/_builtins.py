"""Built-in plugins: repository conventions, output redaction and an audit log."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigurationError
from .._redact import Redactor, get_redactor
from ._base import Plugin, PluginContext

if TYPE_CHECKING:
    from ..models import AgentRunResponse

__all__ = ["AuditLog", "ConventionsPlugin", "OutputFilter"]


class ConventionsPlugin(Plugin):
    """Append repository conventions to every prompt (once).

    Args:
        conventions: The conventions text, or a path to a file holding it
            (``CONTRIBUTING.md``, ``AGENTS.md``...), read once at construction.
        heading: The heading put above the conventions.
    """

    def __init__(self, conventions: str | Path, *, heading: str = "Repository conventions") -> None:
        if isinstance(conventions, Path):
            try:
                conventions = conventions.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read the conventions file {str(conventions)!r}: {exc.strerror}; "
                    "pass an existing file or the conventions text itself"
                ) from exc
        self.conventions = conventions.strip()
        self.heading = heading

    def transform_prompt(self, prompt: str, ctx: PluginContext) -> str:
        """Append the conventions unless the prompt already contains them."""
        if not self.conventions or self.conventions in prompt:
            return prompt
        return f"{prompt.rstrip()}\n\n## {self.heading}\n\n{self.conventions}\n"


class OutputFilter(Plugin):
    """Redact secrets from agent outputs before they enter state, messages or traces.

    Args:
        redactor: What to redact; default: the tracing redactor in force
            (:func:`codegen_graph.observability.get_redactor`).
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor

    def filter_output(self, text: str, ctx: PluginContext) -> str:
        """Return ``text`` with secrets replaced by ``[REDACTED]``."""
        return (self.redactor or get_redactor()).redact_text(text)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class AuditLog(Plugin):
    """Append one JSON line per create, resume, completion and error to a file.

    Each line holds ``time`` (ISO 8601, UTC), ``actor`` (``ctx.actor``, else ``actor=``,
    else ``CODEGEN_ACTOR``, else the login name), ``action``, ``agent_run_id``, ``org_id``,
    ``role`` and ``prompt_sha256`` (the SHA-256 of the prompt, never the prompt); completion
    lines add ``status``, error lines ``error_type`` (never the message). The token is never
    written: no field can hold it. Appends are serialised by a lock and each line is
    written with one ``write`` call on a file opened for appending.

    Args:
        path: The JSON-lines file; its directory is created if needed.
        actor: The default actor.
        now: The clock, for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        actor: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.actor = actor
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()

    def _actor(self, ctx: PluginContext) -> str:
        return ctx.actor or self.actor or os.environ.get("CODEGEN_ACTOR") or _default_actor()

    def record(
        self,
        action: str,
        ctx: PluginContext,
        *,
        run: AgentRunResponse | None = None,
        **fields: str | int | None,
    ) -> dict[str, Any]:
        """Append one line and return it as a dict."""
        entry: dict[str, Any] = {
            "time": self._now().isoformat(timespec="milliseconds"),
            "actor": self._actor(ctx),
            "action": action,
            "agent_run_id": run.id if run is not None else ctx.agent_run_id,
            "org_id": run.organization_id if run is not None else ctx.org_id,
            "role": ctx.role,
            "prompt_sha256": (
                hashlib.sha256(ctx.prompt.encode("utf-8")).hexdigest()
                if ctx.prompt is not None
                else None
            ),
            **fields,
        }
        line = get_redactor().redact_text(json.dumps(entry, sort_keys=True)) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
        return entry

    def on_create(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """Record the create (or resume: ``ctx.action``)."""
        self.record(ctx.action, ctx, run=run)

    def on_complete(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """Record the run's terminal status."""
        status = run.status.canonical if run.status is not None else None
        self.record("complete", ctx, run=run, status=status)

    def on_error(self, exc: BaseException, ctx: PluginContext) -> None:
        """Record a failed operation (the error type only)."""
        self.record(f"{ctx.action}.error", ctx, error_type=type(exc).__name__)
