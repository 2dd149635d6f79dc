"""Plugins: prompt transformers, run lifecycle hooks, guards, output filters, audit logs.

Register plugins on a :class:`PluginManager` (the client and nodes call its hooks), or
install them in the ``codegen_graph.plugins`` entry-point group and call
:meth:`PluginManager.discover`::

    [project.entry-points."codegen_graph.plugins"]
    my_plugin = "my_package.plugins:MyPlugin"
"""

from __future__ import annotations

from .._context import CallContext, call_context, current_call_context
from ._base import ENTRY_POINT_GROUP, Plugin, PluginContext, PluginManager
from ._builtins import AuditLog, ConventionsPlugin, OutputFilter
from ._guard import DEFAULT_INJECTION_PATTERNS, InjectionFinding, PromptGuard, PromptInjectionError

__all__ = [
    "DEFAULT_INJECTION_PATTERNS",
    "ENTRY_POINT_GROUP",
    "AuditLog",
    "CallContext",
    "ConventionsPlugin",
    "InjectionFinding",
    "OutputFilter",
    "Plugin",
    "PluginContext",
    "PluginManager",
    "PromptGuard",
    "PromptInjectionError",
    "call_context",
    "current_call_context",
]
