"""The client's observability and plugin hooks, written once for both clients.

A :class:`ClientHooks` is built by each client from its ``plugins=`` and ``metrics=``
arguments. Around every API call the client asks it for a :class:`CallHooks`, which

* rewrites the prompt of a create or resume through the plugins' ``transform_prompt``
  (a blocking ``PromptGuard`` stops the call here, before anything is sent);
* opens an OpenTelemetry span (a no-op without ``opentelemetry``);
* after success calls ``on_create`` (create and resume) and counts the run in the metrics;
  after failure calls ``on_error``.

Every HTTP attempt is recorded by route template and status, and every retry by route.
Run handles report a run they saw finish through :meth:`ClientHooks.run_finished`.

Who is calling (role, actor, trust) comes from :func:`codegen_graph.plugins.call_context`.
Nothing here imports LangChain, LangGraph or LangSmith.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from ._context import current_call_context
from ._metrics import Metrics
from ._otel import span
from .plugins._base import Plugin, PluginContext, PluginManager

if TYPE_CHECKING:
    from ._base_client import RequestSpec
    from .models import AgentRunResponse

__all__ = ["CallHooks", "ClientHooks", "route_template"]

_ID_SEGMENT = re.compile(r"/(organizations|users|run|repos|prs|sandbox)/(\d+)(?=/|$)")
_PLACEHOLDER = {
    "organizations": "{org_id}",
    "users": "{user_id}",
    "run": "{agent_run_id}",
    "repos": "{repo_id}",
    "prs": "{pr_id}",
    "sandbox": "{sandbox_id}",
}
_CREATE = "/v1/organizations/{org_id}/agent/run"
_RESUME = "/v1/organizations/{org_id}/agent/run/resume"


def route_template(path: str) -> str:
    """The API path template of a concrete path (ids become ``{org_id}``, ...).

    Example:
        >>> route_template("/v1/organizations/5/agent/run/7")
        '/v1/organizations/{org_id}/agent/run/{agent_run_id}'
    """
    return _ID_SEGMENT.sub(lambda m: f"/{m.group(1)}/{_PLACEHOLDER[m.group(1)]}", path)


def _manager(plugins: PluginManager | Sequence[Plugin] | None) -> PluginManager | None:
    if plugins is None or isinstance(plugins, PluginManager):
        return plugins
    return PluginManager(plugins)


class CallHooks:
    """The hooks of one API call (see :meth:`ClientHooks.call`)."""

    __slots__ = ("_action", "_ctx", "_hooks", "route", "spec")

    def __init__(self, hooks: ClientHooks, spec: RequestSpec[Any]) -> None:
        self._hooks = hooks
        self.route = route_template(spec.path)
        self._action: str | None = None
        self._ctx: PluginContext | None = None
        if spec.method == "POST" and self.route in (_CREATE, _RESUME):
            self._action = "create" if self.route == _CREATE else "resume"
            spec = self._transform(spec, self._action)
        self.spec = spec

    def _transform(self, spec: RequestSpec[Any], action: str) -> RequestSpec[Any]:
        body = dict(spec.json or {})
        caller = current_call_context()
        run_id = body.get("agent_run_id")
        self._ctx = PluginContext(
            action=action,
            role=caller.role,
            org_id=self._hooks.org_id,
            agent_run_id=run_id if isinstance(run_id, int) else None,
            actor=caller.actor,
            prompt=body.get("prompt"),
            untrusted=caller.untrusted,
            source=caller.source,
            metadata=caller.metadata,
        )
        pm = self._hooks.plugins
        prompt = body.get("prompt")
        if pm is None or not isinstance(prompt, str):
            return spec
        try:
            new = pm.transform_prompt(prompt, self._ctx)
        except BaseException as exc:
            pm.on_error(exc, self._ctx)
            raise
        self._ctx = self._ctx.replace(prompt=new)
        if new == prompt:
            return spec
        return dataclasses.replace(spec, json={**body, "prompt": new})

    def span(self) -> AbstractContextManager[Any]:
        """An OpenTelemetry span around the call."""
        attrs: dict[str, Any] = {
            "http.request.method": self.spec.method,
            "url.template": self.route,
            "codegen.org_id": self._hooks.org_id,
            "codegen.role": current_call_context().role,
        }
        return span(f"codegen.http {self.spec.method} {self.route}", attrs)

    def succeeded(self, result: Any) -> None:
        """After the call returned ``result``."""
        if self._action is None or self._ctx is None:
            return
        ctx = self._ctx.replace(agent_run_id=getattr(result, "id", self._ctx.agent_run_id))
        metrics = self._hooks.metrics
        if metrics is not None:
            if self._action == "create":
                metrics.record_run_created(ctx.role)
            else:
                metrics.record_run_resumed(ctx.role)
        if self._hooks.plugins is not None:
            self._hooks.plugins.on_create(result, ctx)

    def failed(self, exc: BaseException) -> None:
        """After the call raised ``exc``."""
        if self._hooks.plugins is None:
            return
        ctx = self._ctx or self._hooks.context(_action_of(self.spec.method, self.route))
        self._hooks.plugins.on_error(exc, ctx)


def _action_of(method: str, route: str) -> str:
    return f"{method} {route}"


class ClientHooks:
    """A client's plugins and metrics, and the code that calls them.

    Args:
        org_id: The client's organization.
        plugins: A :class:`PluginManager`, or plugins to put in a new one.
        metrics: Prometheus metrics to record into.
    """

    def __init__(
        self,
        org_id: int,
        plugins: PluginManager | Sequence[Plugin] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.org_id = org_id
        self.plugins = _manager(plugins)
        if metrics is not None and not isinstance(metrics, Metrics):
            from ._exceptions import ConfigurationError

            raise ConfigurationError(
                f"metrics must be a codegen_graph.observability.Metrics, got "
                f"{type(metrics).__name__}"
            )
        self.metrics = metrics

    def call(self, spec: RequestSpec[Any]) -> CallHooks:
        """The hooks of one call; may rewrite the spec (``.spec``) or raise (a guard)."""
        return CallHooks(self, spec)

    def context(self, action: str, *, agent_run_id: int | None = None) -> PluginContext:
        """A plugin context for ``action`` from the caller's :func:`call_context`."""
        caller = current_call_context()
        return PluginContext(
            action=action,
            role=caller.role,
            org_id=self.org_id,
            agent_run_id=agent_run_id,
            actor=caller.actor,
            untrusted=caller.untrusted,
            source=caller.source,
            metadata=caller.metadata,
        )

    def request_sent(self, route: str, status: int | str, seconds: float) -> None:
        """Record one HTTP attempt."""
        if self.metrics is not None:
            self.metrics.record_request(route, status, seconds)

    def retrying(self, route: str) -> None:
        """Record one retry."""
        if self.metrics is not None:
            self.metrics.record_retry(route)

    @contextmanager
    def waiting(self, agent_run_id: int) -> Iterator[None]:
        """An OpenTelemetry span around a wait; ``on_error`` when the wait fails."""
        with span(
            "codegen.wait",
            {"codegen.agent_run_id": agent_run_id, "codegen.role": current_call_context().role},
        ):
            try:
                yield
            except BaseException as exc:
                if self.plugins is not None and isinstance(exc, Exception):
                    self.plugins.on_error(exc, self.context("wait", agent_run_id=agent_run_id))
                raise

    def run_finished(self, run: AgentRunResponse, wait_seconds: float | None = None) -> None:
        """A handle saw ``run`` reach a terminal status: metrics and ``on_complete``."""
        status = run.status
        if status is None:
            return
        if self.metrics is not None:
            self.metrics.record_run_finished(
                current_call_context().role, status.canonical, wait_seconds
            )
        if self.plugins is not None:
            self.plugins.on_complete(run, self.context("complete", agent_run_id=run.id))
