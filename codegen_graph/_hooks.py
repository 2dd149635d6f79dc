"""The client's hooks: a small protocol the upper layers plug into, written once.

Like httpx's ``event_hooks``, the client calls objects it does not know: anything with
the four methods of :class:`Hooks` (``transform_prompt``, ``on_create``, ``on_complete``,
``on_error``). :class:`codegen_graph.plugins.PluginManager` is one; the plugins layer also
registers it (:func:`combine_hooks_with`) to run a plain sequence of plugins, so this
layer never imports the plugins layer.

A :class:`ClientHooks` is built by each client from its ``plugins=`` and ``metrics=``
arguments. Around every API call the client asks it for a :class:`CallHooks`, which

* rewrites the prompt of a create or resume through the plugins' ``transform_prompt``
  (a blocking ``PromptGuard`` stops the call here, before anything is sent);
* opens an OpenTelemetry span named by OpenTelemetry's conventions (a no-op without
  ``opentelemetry``): ``invoke_agent {role}`` with the GenAI attributes for a create or
  resume, ``{METHOD} {route}`` for the rest (``docs/observability.md`` lists them);
* after success calls ``on_create`` (create and resume) and counts the run in the metrics;
  after failure calls ``on_error``;
* passes every answer's agent-written text (a run's ``result`` and ``summary``, each log
  entry's thought, observation, tool input and output) through the plugins'
  ``filter_output`` (e.g. :class:`~codegen_graph.plugins.OutputFilter`): everything read
  through the client (handles, tools, graph nodes, workflows, traces) sees filtered text.

Every HTTP attempt is recorded by route template and status, and every retry by route.
Run handles report a run they saw finish through :meth:`ClientHooks.run_finished`.

Who is calling (role, actor, trust) comes from :func:`codegen_graph.plugins.call_context`.
Nothing here imports LangChain, LangGraph, LangSmith, the plugins or observability.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._context import PluginContext, current_call_context
from ._exceptions import ConfigurationError
from ._metrics import Metrics
from ._otel import set_attributes, span
from .models import AgentRunResponse

if TYPE_CHECKING:
    from ._base_client import RequestSpec

__all__ = [
    "CallHooks",
    "ClientHooks",
    "Hooks",
    "combine_hooks_with",
    "filter_texts",
    "route_template",
]

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
# The run id and span of the wait in progress, for run_finished to give it the final status.
_WAIT: ContextVar[tuple[int, Any] | None] = ContextVar("codegen_graph_wait", default=None)


def _agent_attributes(role: str | None, run_id: int | None) -> dict[str, Any]:
    """A Codegen agent run in OpenTelemetry's GenAI terms: the role names the agent; a run
    is both the agent's instance and its conversation (a resume continues it)."""
    run = None if run_id is None else str(run_id)
    return {
        "gen_ai.provider.name": "codegen",
        "gen_ai.system": "codegen",  # the provider's name before semantic conventions 1.37
        "gen_ai.agent.name": role,
        "gen_ai.agent.id": run,
        "gen_ai.conversation.id": run,
        "codegen.agent_run_id": run_id,
    }


def route_template(path: str) -> str:
    """The API path template of a concrete path (ids become ``{org_id}``, ...).

    Examples:
        >>> route_template("/v1/organizations/5/agent/run/7")
        '/v1/organizations/{org_id}/agent/run/{agent_run_id}'
    """
    return _ID_SEGMENT.sub(lambda m: f"/{m.group(1)}/{_PLACEHOLDER[m.group(1)]}", path)


@runtime_checkable
class Hooks(Protocol):
    """What the client calls around its operations (a plugin manager, or one plugin)."""

    def transform_prompt(self, prompt: str, ctx: PluginContext) -> str:
        """The prompt to send instead of ``prompt`` (may raise to stop the call)."""
        ...

    def on_create(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """After a run was created or resumed."""
        ...

    def on_complete(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """After a handle saw its run reach a terminal status."""
        ...

    def on_error(self, exc: BaseException, ctx: PluginContext) -> None:
        """After an operation failed with ``exc``."""
        ...


def _walk(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: _walk(v, clean) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, clean) for v in value]
    return value


_RUN_TEXTS = ("result", "summary")
_ENTRY_TEXTS = ("thought", "observation", "tool_input", "tool_output")


def filter_texts(value: Any, clean: Callable[[str], str]) -> Any:
    """``value`` (a run, a log entry, a page of either, or a run with its logs) with its
    agent-written texts passed through ``clean``; anything else as it is."""
    fields = getattr(type(value), "model_fields", None)
    if fields is None:
        return value
    changes: dict[str, Any] = {}
    for name in (*_RUN_TEXTS, *_ENTRY_TEXTS):
        if name in fields and getattr(value, name, None) is not None:
            changes[name] = _walk(getattr(value, name), clean)
    for name in ("items", "logs"):
        if name in fields and isinstance(getattr(value, name, None), list):
            changes[name] = [filter_texts(item, clean) for item in getattr(value, name)]
    if not changes:
        return value
    copy = value.model_copy(update=changes)
    return copy


_combiners: list[Callable[[Sequence[Any]], Hooks]] = []


def combine_hooks_with(combiner: Callable[[Sequence[Any]], Hooks]) -> None:
    """Set how a client runs a sequence given as ``plugins=`` (in order, isolated).

    :mod:`codegen_graph.plugins` registers :class:`~codegen_graph.plugins.PluginManager`
    when it is imported, which any plugin instance implies.
    """
    _combiners[:] = [combiner]


def _as_hooks(plugins: Hooks | Sequence[Any] | None) -> Hooks | None:
    if plugins is None:
        return None
    if isinstance(plugins, Sequence) and not isinstance(plugins, str):
        if _combiners:
            return _combiners[0](plugins)
        if not plugins:
            return None
        # without codegen_graph.plugins loaded, none of these can be a Plugin
        raise ConfigurationError(
            f"a plugin must be an instance of codegen_graph.plugins.Plugin, got "
            f"{type(plugins[0]).__name__}; subclass Plugin and override the hooks you need"
        )
    if isinstance(plugins, Hooks):
        return plugins
    raise ConfigurationError(
        "plugins must be a codegen_graph.plugins.PluginManager or a sequence of plugins, got "
        f"{type(plugins).__name__}"
    )


class CallHooks:
    """The hooks of one API call (see :meth:`ClientHooks.call`)."""

    __slots__ = ("_action", "_ctx", "_hooks", "_span", "route", "spec")

    def __init__(self, hooks: ClientHooks, spec: RequestSpec[Any]) -> None:
        self._hooks = hooks
        self.route = route_template(spec.path)
        self._action: str | None = None
        self._ctx: PluginContext | None = None
        self._span: Any = None
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

    @contextmanager
    def span(self) -> Iterator[Any]:
        """An OpenTelemetry client span around the call: ``invoke_agent {role}`` for a create
        or resume (OpenTelemetry's GenAI conventions), ``{METHOD} {route}`` (HTTP's) else."""
        role = current_call_context().role
        attrs: dict[str, Any] = {
            "http.request.method": self.spec.method,
            "url.template": self.route,
            "codegen.org_id": self._hooks.org_id,
            "codegen.role": role,
        }
        name = f"{self.spec.method} {self.route}"
        if self._ctx is not None:
            body = self.spec.json or {}
            prompt = body.get("prompt")
            attrs |= _agent_attributes(role, self._ctx.agent_run_id)
            attrs |= {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.request.model": body.get("model"),
                "codegen.prompt_length": len(prompt) if isinstance(prompt, str) else None,
            }
            name = f"invoke_agent {role}" if role else "invoke_agent"
        with span(name, attrs, kind="client") as self._span:
            yield self._span

    def succeeded(self, result: Any) -> Any:
        """After the call returned ``result``: the result as the caller may see it."""
        result = self._hooks.filtered(result)
        if isinstance(result, AgentRunResponse):  # which run, and how it stands now
            run: dict[str, Any] = {"codegen.agent_run_id": result.id}
            if self._action is not None:  # the invoked agent's instance and conversation
                run["gen_ai.agent.id"] = run["gen_ai.conversation.id"] = str(result.id)
            run["codegen.agent_run_status"] = result.status and result.status.canonical
            set_attributes(self._span, run)
        if self._action is None or self._ctx is None:
            return result
        ctx = self._ctx.replace(agent_run_id=getattr(result, "id", self._ctx.agent_run_id))
        metrics = self._hooks.metrics
        if metrics is not None:
            if self._action == "create":
                metrics.record_run_created(ctx.role)
            else:
                metrics.record_run_resumed(ctx.role)
        if self._hooks.plugins is not None:
            self._hooks.plugins.on_create(result, ctx)
        return result

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
        plugins: :class:`Hooks` (a :class:`~codegen_graph.plugins.PluginManager`), or plugins
            to run in order (put in a new manager).
        metrics: Prometheus metrics to record into.
    """

    def __init__(
        self,
        org_id: int,
        plugins: Hooks | Sequence[Hooks] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.org_id = org_id
        self.plugins = _as_hooks(plugins)
        if metrics is not None and not isinstance(metrics, Metrics):
            raise ConfigurationError(
                f"metrics must be a codegen_graph.observability.Metrics, got "
                f"{type(metrics).__name__}"
            )
        self.metrics = metrics

    def filtered(self, value: Any) -> Any:
        """``value`` with its agent-written texts filtered (see the module docstring)."""
        clean = getattr(self.plugins, "filter_output", None)
        if clean is None:
            return value
        ctx = self.context("output")
        return filter_texts(value, lambda text: clean(text, ctx))

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
        """An OpenTelemetry span around a wait (with the final status when the handle saw the
        run finish, :meth:`run_finished`); ``on_error`` when the wait fails."""
        role = current_call_context().role
        attrs = {**_agent_attributes(role, agent_run_id), "codegen.org_id": self.org_id}
        attrs["codegen.role"] = role
        with span("codegen.wait", attrs) as current:
            held = _WAIT.set((agent_run_id, current))
            try:
                yield
            except BaseException as exc:
                if self.plugins is not None and isinstance(exc, Exception):
                    self.plugins.on_error(exc, self.context("wait", agent_run_id=agent_run_id))
                raise
            finally:
                _WAIT.reset(held)

    def run_finished(self, run: AgentRunResponse, wait_seconds: float | None = None) -> None:
        """A handle saw ``run`` reach a terminal status: metrics and ``on_complete``."""
        status = run.status
        if status is None:
            return
        wait = _WAIT.get()
        if wait is not None and wait[0] == run.id:
            set_attributes(wait[1], {"codegen.agent_run_status": status.canonical})
        if self.metrics is not None:
            self.metrics.record_run_finished(
                current_call_context().role, status.canonical, wait_seconds
            )
        if self.plugins is not None:
            self.plugins.on_complete(run, self.context("complete", agent_run_id=run.id))
