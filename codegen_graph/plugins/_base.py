"""The plugin hooks, their context object, and the manager that runs them in order.

A plugin is any subclass of :class:`Plugin` overriding some of its hooks::

    transform_prompt(prompt, ctx) -> str   before a create / resume: rewrite the prompt
    on_create(run, ctx)                    after a run was created or resumed
    on_complete(run, ctx)                  after a run reached a terminal status
    on_error(exc, ctx)                     after an operation failed
    filter_output(text, ctx) -> str        on an agent's result before it enters state

:class:`PluginManager` runs the hooks in registration order. A hook that raises is logged
(redacted) and skipped, so one broken plugin never breaks a run, with one exception:
:class:`~codegen_graph.plugins.PromptInjectionError` from a :class:`PromptGuard` in
``block`` mode propagates, because stopping the run is its job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

from .._context import PluginContext
from .._exceptions import CodegenError
from .._hooks import combine_hooks_with
from .._redact import get_redactor

if TYPE_CHECKING:
    from ..models import AgentRunResponse

__all__ = ["ENTRY_POINT_GROUP", "Plugin", "PluginContext", "PluginManager", "PluginVeto"]

#: The entry-point group :meth:`PluginManager.discover` loads plugins from.
ENTRY_POINT_GROUP = "codegen_graph.plugins"

logger = logging.getLogger("codegen_graph.plugins")

_RunT = TypeVar("_RunT", bound="AgentRunResponse")


class Plugin:
    """Base class of plugins: every hook is a no-op; override the ones you need."""

    #: A short name for logs; defaults to the class name.
    name: str = ""

    @property
    def plugin_name(self) -> str:
        """The name used in logs."""
        return self.name or type(self).__name__

    def transform_prompt(self, prompt: str, ctx: PluginContext) -> str:
        """Return the prompt to send instead of ``prompt``."""
        return prompt

    def on_create(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """Called after a run was created (``ctx.action == "create"``) or resumed."""

    def on_complete(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """Called after a run reached a terminal status."""

    def on_error(self, exc: BaseException, ctx: PluginContext) -> None:
        """Called after an operation failed with ``exc``."""

    def filter_output(self, text: str, ctx: PluginContext) -> str:
        """Return the agent output to keep instead of ``text``."""
        return text


class PluginVeto(CodegenError):
    """An error a plugin raises on purpose to stop the call (e.g. ``PromptInjectionError``):
    the manager passes it on, where any other error of a plugin is logged and skipped."""


def _must_propagate(exc: BaseException) -> bool:
    return isinstance(exc, PluginVeto) or not isinstance(exc, Exception)


class PluginManager:
    """An ordered set of plugins and the code that runs their hooks.

    Args:
        plugins: Plugins to register, in order.

    Examples:
        >>> pm = PluginManager([ConventionsPlugin("Use type hints.")])  # doctest: +SKIP
        >>> pm.transform_prompt("Add /health", PluginContext())  # doctest: +SKIP
    """

    def __init__(self, plugins: Iterable[Plugin] = ()) -> None:
        self._plugins: list[Plugin] = []
        for plugin in plugins:
            self.register(plugin)

    def __repr__(self) -> str:
        return f"PluginManager({[p.plugin_name for p in self._plugins]})"

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        """The registered plugins, in order."""
        return tuple(self._plugins)

    def register(self, plugin: Plugin) -> Plugin:
        """Add a plugin at the end of the order and return it."""
        if not isinstance(plugin, Plugin):
            from .._exceptions import ConfigurationError

            raise ConfigurationError(
                f"a plugin must be an instance of codegen_graph.plugins.Plugin, got "
                f"{type(plugin).__name__}; subclass Plugin and override the hooks you need"
            )
        self._plugins.append(plugin)
        return plugin

    def unregister(self, plugin: Plugin) -> None:
        """Remove a plugin (no error when absent)."""
        self._plugins = [p for p in self._plugins if p is not plugin]

    def discover(self, group: str = ENTRY_POINT_GROUP) -> list[Plugin]:
        """Load and register the plugins installed under the entry-point ``group``.

        An entry point may name a :class:`Plugin` subclass (instantiated without
        arguments), an instance, or a factory returning one. One that fails to load is
        logged and skipped.

        Returns:
            The plugins this call registered, in entry-point name order.
        """
        loaded: list[Plugin] = []
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            try:
                obj = ep.load()
                if isinstance(obj, type) and issubclass(obj, Plugin):
                    plugin: object = obj()
                elif isinstance(obj, Plugin):
                    plugin = obj
                elif callable(obj):
                    plugin = obj()
                else:
                    plugin = obj
                loaded.append(self.register(plugin))  # type: ignore[arg-type]
            except Exception as exc:
                logger.warning(
                    "could not load plugin entry point %r (%s): %s",
                    ep.name,
                    ep.value,
                    get_redactor().redact_text(f"{type(exc).__name__}: {exc}"),
                )
        return loaded

    def _failed(self, plugin: Plugin, hook: str, exc: BaseException) -> None:
        if _must_propagate(exc):
            raise exc
        logger.warning(
            "plugin %s: %s failed and was skipped: %s",
            plugin.plugin_name,
            hook,
            get_redactor().redact_text(f"{type(exc).__name__}: {exc}"),
        )

    def transform_prompt(self, prompt: str, ctx: PluginContext) -> str:
        """Pass the prompt through every plugin's ``transform_prompt``, in order."""
        for plugin in self._plugins:
            try:
                result = plugin.transform_prompt(prompt, ctx.replace(prompt=prompt))
            except BaseException as exc:
                self._failed(plugin, "transform_prompt", exc)
                continue
            if isinstance(result, str):
                prompt = result
            else:
                self._failed(plugin, "transform_prompt", TypeError("did not return a str"))
        return prompt

    def filter_output(self, text: str, ctx: PluginContext) -> str:
        """Pass an agent's output through every plugin's ``filter_output``, in order."""
        for plugin in self._plugins:
            try:
                result = plugin.filter_output(text, ctx)
            except BaseException as exc:
                self._failed(plugin, "filter_output", exc)
                continue
            if isinstance(result, str):
                text = result
            else:
                self._failed(plugin, "filter_output", TypeError("did not return a str"))
        return text

    def filter_run(self, run: _RunT, ctx: PluginContext) -> _RunT:
        """A copy of ``run`` whose ``result`` and ``summary`` went through ``filter_output``."""
        changes: dict[str, Any] = {}
        for name in ("result", "summary"):
            value = getattr(run, name, None)
            if isinstance(value, str):
                changes[name] = self.filter_output(value, ctx)
        return run.model_copy(update=changes) if changes else run

    def on_create(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """Run every plugin's ``on_create``."""
        for plugin in self._plugins:
            try:
                plugin.on_create(run, ctx)
            except BaseException as exc:
                self._failed(plugin, "on_create", exc)

    def on_complete(self, run: AgentRunResponse, ctx: PluginContext) -> None:
        """Run every plugin's ``on_complete``."""
        for plugin in self._plugins:
            try:
                plugin.on_complete(run, ctx)
            except BaseException as exc:
                self._failed(plugin, "on_complete", exc)

    def on_error(self, exc: BaseException, ctx: PluginContext) -> None:
        """Run every plugin's ``on_error``."""
        for plugin in self._plugins:
            try:
                plugin.on_error(exc, ctx)
            except BaseException as hook_exc:
                self._failed(plugin, "on_error", hook_exc)


# A client given a plain sequence of plugins runs them through a PluginManager.
combine_hooks_with(PluginManager)
